#include "onnx/deferred_data.hpp"

#include <string>
#include <utility>

namespace modelkit::onnx {
namespace {

// A string of `size` bytes whose contents are never written: resize_and_overwrite (C++23; this
// file is compiled as C++23 where the compiler allows) leaves a fresh allocation untouched, so a
// large one stays unbacked pages; elsewhere resize zero-fills it (correct, but it costs the memory).
std::string untouched_string(std::size_t size) {
  std::string s;
#if defined(__cpp_lib_string_resize_and_overwrite)
  s.resize_and_overwrite(size, [](char*, std::size_t n) { return n; });
#else
  s.resize(size);
#endif
  return s;
}

}  // namespace

void DeferredTensors::defer(::onnx::TensorProto& tensor, std::uint64_t size, ByteProducer produce) {
  tensor.set_raw_data(untouched_string(static_cast<std::size_t>(size)));
  entries_[tensor.raw_data().data()] = Entry{size, std::move(produce)};
}

const ByteProducer* DeferredTensors::find(const void* data, std::uint64_t size) const {
  auto it = entries_.find(data);
  if (it == entries_.end() || it->second.size != size) return nullptr;
  return &it->second.produce;
}

}  // namespace modelkit::onnx
