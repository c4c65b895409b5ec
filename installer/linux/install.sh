#!/bin/sh
# Put PhotoClip in this user's applications menu (and, with --desktop, on the desktop):
# a .desktop entry in ~/.local/share/applications and the icon in ~/.local/share/icons/hicolor.
# Per user, no root. Run it from a checkout (after `pip install .`) or from an unpacked
# PhotoClip bundle, where it sits beside the PhotoClip program.
set -eu

usage() {
    cat <<'USAGE'
usage: install.sh [--exec PROGRAM] [--desktop] [--uninstall]

  --exec PROGRAM  the program the icon starts (default: the bundle's PhotoClip beside this
                  script, else `photoclip-gui` on PATH)
  --desktop       also put a launcher on the desktop (~/Desktop or XDG_DESKTOP_DIR)
  --uninstall     remove everything install.sh put in place
USAGE
}

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry=$data/applications/photoclip.desktop
sizes="16 24 32 48 64 128 256 512"

find_resources() {
    for dir in "$here/_internal/resources" "$here/../../resources"; do
        if [ -f "$dir/photoclip.desktop" ]; then
            (cd "$dir" && pwd)
            return
        fi
    done
    fail "cannot find resources/photoclip.desktop next to $here"
}

find_program() {
    if [ -x "$here/PhotoClip" ]; then
        echo "$here/PhotoClip"
    elif command -v photoclip-gui >/dev/null 2>&1; then
        command -v photoclip-gui
    else
        fail "no PhotoClip program found: run \`python3 -m pip install .\` first, or pass --exec"
    fi
}

desktop_dir() {
    if command -v xdg-user-dir >/dev/null 2>&1; then
        xdg-user-dir DESKTOP
    else
        echo "$HOME/Desktop"
    fi
}

# The desktop-entry Exec key quotes its argument; these characters would need escaping.
check_path() {
    case $1 in
        *[\"\`\$\\]*) fail "the program's path has a character a .desktop file cannot hold: $1" ;;
        /*) ;;
        *) fail "the program's path must be absolute: $1" ;;
    esac
    [ -x "$1" ] || fail "not an executable program: $1"
}

write_entry() { # resources program target
    sed -e "s|^Exec=.*|Exec=\"$2\"|" -e "s|^TryExec=.*|TryExec=$2|" \
        "$1/photoclip.desktop" >"$3"
}

install_icons() { # resources
    for size in $sizes; do
        dir=$data/icons/hicolor/${size}x$size/apps
        mkdir -p "$dir"
        cp "$1/icons/png/photoclip-$size.png" "$dir/photoclip.png"
    done
    mkdir -p "$data/icons/hicolor/scalable/apps"
    cp "$1/icons/photoclip.svg" "$data/icons/hicolor/scalable/apps/photoclip.svg"
}

# Desktops read a theme's cache when it has one; refresh it then, never create one.
refresh_icon_cache() {
    if [ -f "$data/icons/hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
    fi
}

# A launcher on the desktop runs on double-click once it is executable and, on GNOME, trusted.
install_desktop_launcher() {
    dir=$(desktop_dir)
    mkdir -p "$dir"
    cp "$entry" "$dir/photoclip.desktop"
    chmod +x "$dir/photoclip.desktop"
    gio set "$dir/photoclip.desktop" metadata::trusted true 2>/dev/null || true
    echo "installed a launcher on the desktop: $dir/photoclip.desktop"
}

install() {
    resources=$(find_resources)
    [ -n "$program" ] || program=$(find_program)
    check_path "$program"
    mkdir -p "$data/applications"
    write_entry "$resources" "$program" "$entry"
    install_icons "$resources"
    refresh_icon_cache
    echo "installed PhotoClip in the applications menu: $entry (runs $program)"
    if [ "$desktop" = yes ]; then
        install_desktop_launcher
    fi
}

uninstall() {
    rm -f "$entry" "$(desktop_dir)/photoclip.desktop"
    for size in $sizes; do
        rm -f "$data/icons/hicolor/${size}x$size/apps/photoclip.png"
    done
    rm -f "$data/icons/hicolor/scalable/apps/photoclip.svg"
    refresh_icon_cache
    echo "removed PhotoClip from the applications menu and the desktop"
}

program=""
desktop=no
mode=install
while [ $# -gt 0 ]; do
    case $1 in
        --exec)
            [ $# -ge 2 ] || fail "--exec needs a program"
            program=$2
            shift
            ;;
        --desktop) desktop=yes ;;
        --uninstall) mode=uninstall ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done
$mode
