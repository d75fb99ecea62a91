// Tensor data produced while a model is written (internal to modelkit): a tensor's raw_data is a
// placeholder of the right size whose memory is never touched, and save_model_proto writes, in
// its place, what the tensor's producer hands it, chunk by chunk, straight to the output file
// (inline in the .onnx or in the external data file). The serialized bytes are exactly those of
// the same tensor holding the produced bytes in memory, without the model ever holding them.
//
// Placeholders are recognised by the address of their bytes, so a tensor holding one must be
// moved (never copied) until it is saved; save_model_proto fails, writing nothing, unless every
// registered placeholder that is still in the model was produced, once.
#pragma once

#include <modelkit/result.hpp>

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <span>

namespace modelkit::onnx {

// Receives consecutive pieces of a tensor's bytes.
using ByteSink = std::function<Result<void>(std::span<const unsigned char>)>;
// Hands exactly the tensor's bytes, in order, to the sink (errors name the tensor).
using ByteProducer = std::function<Result<void>(const ByteSink&)>;

// Smaller tensors are not worth deferring, and protobuf copies small strings into its buffer
// instead of handing them over by address.
inline constexpr std::uint64_t kMinDeferredBytes = std::uint64_t{1} << 18;

class DeferredTensors {
 public:
  // Sets `tensor`'s raw_data to a placeholder of `size` bytes (large: at least
  // kMinDeferredBytes, so protobuf hands it to the writer uncopied) and registers `produce`
  // for it. The placeholder costs address space, not memory: its pages are never written.
  void defer(::onnx::TensorProto& tensor, std::uint64_t size, ByteProducer produce);

  // The producer of the placeholder whose bytes start at `data` with `size` bytes; nullptr when
  // `data` is no placeholder.
  [[nodiscard]] const ByteProducer* find(const void* data, std::uint64_t size) const;
  [[nodiscard]] bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::uint64_t size;
    ByteProducer produce;
  };
  std::map<const void*, Entry> entries_;
};

}  // namespace modelkit::onnx
