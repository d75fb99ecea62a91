// libFuzzer target: ONNX ModelProto bytes, as read from an .onnx file placed in a scratch folder
// that also holds weights.bin (byte i is i mod 251), a link to it and a link to /etc. The model is
// described (model_info_from_proto checks every external-data reference) and each initializer's
// reference is parsed and its data read. Never crashes; errors are single lines; data read through
// an external reference is exactly that range of weights.bin (never a file outside the folder); a
// model that model_info_from_proto accepts loads its external data. The wire scanner inspect uses
// (onnx/wire_scan) runs on every input: never crashes, errors are single lines, and wherever
// protobuf parses the bytes and they describe, the scan describes them identically.
#include "fuzz_check.hpp"

#include "onnx/model_proto.hpp"
#include "onnx/onnx_json.hpp"
#include "onnx/wire_scan.hpp"
#include "util/json_writer.hpp"

#include <modelkit/onnx.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kWeightsBytes = 4096;

std::uint8_t weights_byte(std::uint64_t i) { return static_cast<std::uint8_t>(i % 251); }

const fs::path& scratch_folder() {
  static const fs::path folder = [] {
    std::string templ = (fs::temp_directory_path() / "modelkit-fuzz-onnx-XXXXXX").string();
    MODELKIT_FUZZ_REQUIRE(mkdtemp(templ.data()) != nullptr);
    fs::path dir(templ);
    std::string weights(kWeightsBytes, '\0');
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(weights_byte(i));
    std::ofstream(dir / "weights.bin", std::ios::binary).write(weights.data(), static_cast<std::streamsize>(weights.size()));
    fs::create_directory(dir / "sub");
    std::ofstream(dir / "sub" / "weights.bin", std::ios::binary).write(weights.data(), static_cast<std::streamsize>(weights.size()));
    fs::create_symlink("weights.bin", dir / "link_in.bin");
    fs::create_symlink("/etc", dir / "link_out");
    std::atexit([] { std::error_code ec; fs::remove_all(scratch_folder(), ec); });
    return dir;
  }();
  return folder;
}

void check_tensor(const ::onnx::TensorProto& proto, const fs::path& dir) {
  auto ref = modelkit::onnx::external_ref(proto);
  if (!modelkit::fuzz::check(ref)) return;
  auto dense = modelkit::onnx::tensor_dense_bytes(proto);
  modelkit::fuzz::check(dense);
  auto tensor = modelkit::onnx::tensor_from_proto(proto, dir);
  if (!modelkit::fuzz::check(tensor)) return;
  MODELKIT_FUZZ_REQUIRE(dense.ok() && tensor->bytes.size() == *dense);
  if (ref->has_value()) {
    // Only weights.bin and sub/weights.bin exist inside the folder and both hold the pattern.
    for (std::size_t i = 0; i < tensor->bytes.size(); ++i)
      MODELKIT_FUZZ_REQUIRE(std::to_integer<std::uint8_t>(tensor->bytes[i]) == weights_byte((*ref)->offset + i));
  }
}

std::string info_json(const modelkit::onnx::ModelInfo& info) {
  modelkit::util::JsonWriter json;
  modelkit::onnx::write_model_info_json(json, info);
  return json.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = scratch_folder();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto scan = modelkit::onnx::wire::scan_model(bytes, "'model.onnx'");
  modelkit::Result<modelkit::onnx::ModelInfo> scanned_info =
      scan.ok() ? modelkit::onnx::model_info_from_scan(*scan, dir / "model.onnx", size)
                : modelkit::Result<modelkit::onnx::ModelInfo>(scan.error());
  modelkit::fuzz::check(scanned_info);
  auto model = modelkit::onnx::parse_model_proto(bytes, "'model.onnx'");
  if (!modelkit::fuzz::check(model)) return 0;
  auto info = modelkit::onnx::model_info_from_proto(*model, dir / "model.onnx", size);
  if (modelkit::fuzz::check(info)) (void)modelkit::onnx::format_model_info_table(*info);
  // The scanner describes what protobuf describes, exactly; it may be more lenient, not stricter
  // (it does not look inside fields inspect does not show), except past its nesting bound.
  if (info.ok()) {
    MODELKIT_FUZZ_REQUIRE(scanned_info.ok() || scanned_info.error().message.find("nested more than") != std::string::npos);
    if (scanned_info.ok()) MODELKIT_FUZZ_REQUIRE(info_json(*scanned_info) == info_json(*info));
  } else if (scanned_info.ok()) {
    MODELKIT_FUZZ_REQUIRE(false && "protobuf's description failed but the scan's succeeded");
  }
  for (const auto& init : model->graph().initializer()) check_tensor(init, dir);
  auto loaded = *model;
  auto load = modelkit::onnx::load_external_data(loaded, dir);
  modelkit::fuzz::check(load);
  // Describing a model checks every external reference: what it accepts must load.
  MODELKIT_FUZZ_REQUIRE(!info.ok() || load.ok());
  return 0;
}
