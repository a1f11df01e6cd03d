/* empty.c — keeps the test helper library non-empty before any helper exists. */
typedef int hp_test_common_empty_unit;
