# Sourced by scripts/app and scripts/test: installs, on Debian/Ubuntu, what is missing.
#   need_build — to build OptDesk and its window: a C compiler, OpenSSL's headers (SQLCipher),
#                WebKitGTK and its friends (Tauri), Node.js and npm (the UI).
#   need_test  — also: a D-Bus session with GNOME Keyring (keyring tests), Xvfb and
#                WebKitWebDriver (the window's tests), zbar/poppler (sign-up QR and poster),
#                the plain sqlite3 tool (it must not read our encrypted file), headless
#                LibreOffice (the spreadsheet round trip).
need=()
need_build() {
  command -v cc >/dev/null || need+=(build-essential)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  [ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
  pkg-config --exists webkit2gtk-4.1 2>/dev/null || need+=(libwebkit2gtk-4.1-dev)
  [ -e /usr/include/xdo.h ] || need+=(libxdo-dev)
  pkg-config --exists librsvg-2.0 2>/dev/null || need+=(librsvg2-dev)
  command -v npm >/dev/null || need+=(nodejs npm)
}
need_test() {
  need_build
  command -v dbus-run-session >/dev/null || need+=(dbus dbus-x11)
  command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
  command -v zbarimg >/dev/null || need+=(zbar-tools)
  command -v pdftotext >/dev/null || need+=(poppler-utils)
  command -v sqlite3 >/dev/null || need+=(sqlite3)
  command -v xvfb-run >/dev/null || need+=(xvfb)
  command -v xauth >/dev/null || need+=(xauth)
  command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
  # An export re-saved by a real spreadsheet must import to the same state.
  command -v soffice >/dev/null || need+=(libreoffice-calc-nogui)
}
install_needed() {
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
}
# The UI, bundled into ui/dist (the app embeds it when it compiles). Each step runs again only
# when what it depends on changed: the packages when the lock file did, the bundle when any of
# the UI's files is newer than it (so starting the app twice does not rebuild it twice).
build_ui() {
  (
    cd ui
    if [ ! -f node_modules/.installed-lock ] || ! cmp -s package-lock.json node_modules/.installed-lock; then
      npm ci --no-audit --no-fund --loglevel=error
      cp package-lock.json node_modules/.installed-lock
    fi
    if [ ! -f dist/index.html ] || [ -n "$(find src index.html package.json package-lock.json \
        tsconfig.json vite.config.ts -newer dist/index.html -print -quit)" ]; then
      npx vite build --logLevel warn
    fi
  )
}
