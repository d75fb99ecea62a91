#!/usr/bin/env bash
# ONNX Runtime from npm, unpacked with `npm pack` (no install scripts run):
#   - the shared library from onnxruntime-node (linux x64/arm64 builds inside),
#   - the C/C++ headers from com.github.asus4.onnxruntime (the only npm package shipping them).
# Result: .deps/onnxruntime/{lib/libonnxruntime.so*,include/*.h,VERSION}. Skipped when a
# system ONNX Runtime is chosen (ONNXRUNTIME_ROOT set) or the wanted versions are already there.
set -euo pipefail
root="${MODELKIT_ROOT:?MODELKIT_ROOT must be set}"
dest="$root/.deps/onnxruntime"
ort_version="${MODELKIT_ORT_VERSION:-1.30.0}"
headers_package="com.github.asus4.onnxruntime"
headers_version="${MODELKIT_ORT_HEADERS_VERSION:-0.4.9}"
stamp="$dest/VERSION"
wanted="onnxruntime-node $ort_version; $headers_package $headers_version"

if [ -n "${ONNXRUNTIME_ROOT:-}" ]; then
  echo "onnxruntime: using ONNXRUNTIME_ROOT=$ONNXRUNTIME_ROOT"
  exit 0
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -e "$dest/lib/libonnxruntime.so" ]; then
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "onnxruntime: no prebuilt library in onnxruntime-node for $(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "onnxruntime: npm is needed (apt-get install npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "onnxruntime: fetching onnxruntime-node@$ort_version and $headers_package@$headers_version"
npm pack --silent --ignore-scripts "onnxruntime-node@$ort_version" "$headers_package@$headers_version" >/dev/null

lib_in_tar="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
tar xzf "onnxruntime-node-$ort_version.tgz" "$lib_in_tar"
# Any of the framework copies has the same portable headers; take the device one.
headers_in_tar="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers"
tar xzf "$headers_package-$headers_version.tgz" "$headers_in_tar"
tar xzf "$headers_package-$headers_version.tgz" package/LICENSE package/package.json

rm -rf "$dest.new"
mkdir -p "$dest.new/lib" "$dest.new/include"
cp "$lib_in_tar" "$dest.new/lib/libonnxruntime.so.$ort_version"
ln -s "libonnxruntime.so.$ort_version" "$dest.new/lib/libonnxruntime.so.1"
ln -s "libonnxruntime.so.1" "$dest.new/lib/libonnxruntime.so"
cp "$headers_in_tar"/*.h "$dest.new/include/"
cp package/LICENSE "$dest.new/LICENSE"
echo "$wanted" >"$dest.new/VERSION"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "onnxruntime: installed into $dest"
