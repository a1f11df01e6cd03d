# common.sh — shared by scripts/demo.sh, scripts/test.sh and .ci/run (sourced, not run).
# python3-matplotlib: scripts/plot_training.py (training curves; used by the training test).
# iproute2: scripts/netns_cluster.sh (emulated nodes; tests/scripts/cli_netns_cluster.sh).
# chromium: report.html opened in a real browser (tests/eval/cli_report_html.sh) and the demo's
# screenshot of it.
# The Debian 12 packages hpclip needs to build, test and run. Nothing else is fetched.
HPCLIP_DEB_PACKAGES="build-essential cmake pkg-config git ca-certificates \
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools \
  libopenblas-openmp-dev libscalapack-openmpi-dev libconfig-dev libcmocka-dev \
  libjpeg-dev libpng-dev libcjson-dev libarchive-dev libutf8proc-dev zlib1g-dev python3 python3-numpy python3-h5py python3-matplotlib python3-regex iproute2 chromium"

# Install what is missing when we are root; otherwise print the exact command and fail.
hpclip_ensure_packages() {
  local missing=() p
  for p in $HPCLIP_DEB_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "hpclip: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "hpclip: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
}

# Open MPI refuses root unless told; containers and CI run as root.
hpclip_mpi_env() {
  if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  # Small machines: allow more ranks than cores (the tests use 3 ranks).
  export OMPI_MCA_rmaps_base_oversubscribe=1
}

hpclip_jobs() { nproc 2>/dev/null || echo 2; }

# hpclip_screenshot PAGE.html OUT.png: headless Chromium's picture of a page at 1280 px width.
hpclip_screenshot() {
  local prof
  prof=$(mktemp -d)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir="$prof" \
    --hide-scrollbars --window-size=1280,3000 --virtual-time-budget=15000 --screenshot="$2" "file://$(realpath "$1")" \
    >/dev/null 2>&1
  local rc=$?
  rm -rf "$prof"
  [ $rc = 0 ] && [ -s "$2" ] || { echo "hpclip: no screenshot of $1 (chromium exit $rc)" >&2; return 1; }
}
