#!/usr/bin/env bash
# Real photographs for the image tests and benchmark, taken from two Debian packages:
#   - python3-skimage: skimage/data (astronaut, chelsea, coffee, camera (grayscale), rocket.jpg,
#     retina.jpg, logo (RGBA), palette PNGs, a truncated JPEG, ...),
#   - python-matplotlib-data: mpl-data/sample_data (grace_hopper.jpg, a portrait JPEG).
# Installing python3-skimage would pull scipy, matplotlib and ~45 other packages for a folder of
# pictures, so the .debs are fetched with `apt-get download` and only the image files unpacked.
# Result: .deps/images/{skimage,matplotlib}/*.{png,jpg} and .deps/images/VERSION.
set -euo pipefail
root="${MODELKIT_ROOT:?MODELKIT_ROOT must be set}"
dest="$root/.deps/images"
stamp="$dest/VERSION"
packages=(python3-skimage python-matplotlib-data)

candidate_versions() {
  local out="" pkg v
  for pkg in "${packages[@]}"; do
    v="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [ "$v" = "(none)" ] && v=""
    out+="$pkg=${v:-none};"
  done
  echo "$out"
}

# Quick path: the stamp names the packages it came from; any version of them will do, since
# the tests compare against PIL on whatever files are there.
if [ -f "$stamp" ] && [ -e "$dest/skimage/astronaut.png" ] && [ -e "$dest/matplotlib/grace_hopper.jpg" ]; then
  exit 0
fi

wanted="$(candidate_versions)"
if [[ "$wanted" == *"=none;"* ]]; then
  apt-get update -qq
  wanted="$(candidate_versions)"
fi
if [[ "$wanted" == *"=none;"* ]]; then
  echo "images: apt knows no candidate for one of ${packages[*]} ($wanted)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cd "$work"
echo "images: fetching ${packages[*]} to unpack their sample images"
# apt's sandbox user cannot write into a root-owned mktemp dir; run the download unsandboxed.
apt-get download -qq -o APT::Sandbox::User=root "${packages[@]}" >/dev/null

rm -rf "$dest.new"
mkdir -p "$dest.new/skimage" "$dest.new/matplotlib"
for deb in ./*.deb; do
  mkdir -p unpacked
  dpkg-deb --fsys-tarfile "$deb" |
    tar -x -C unpacked --wildcards '*/skimage/data/*.png' '*/skimage/data/*.jpg' \
        '*/mpl-data/sample_data/*.png' '*/mpl-data/sample_data/*.jpg' 2>/dev/null || true
done
find unpacked -path '*/skimage/data/*' -type f \( -name '*.png' -o -name '*.jpg' \) -exec cp {} "$dest.new/skimage/" \;
find unpacked -path '*/mpl-data/sample_data/*' -type f \( -name '*.png' -o -name '*.jpg' \) -exec cp {} "$dest.new/matplotlib/" \;
for must in skimage/astronaut.png skimage/rocket.jpg matplotlib/grace_hopper.jpg; do
  [ -e "$dest.new/$must" ] || { echo "images: $must not found in the downloaded packages" >&2; exit 1; }
done
echo "$wanted" >"$dest.new/VERSION"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "images: $(find "$dest" -type f -name '*.*g' | wc -l) sample images in $dest"
