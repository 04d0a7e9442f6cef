#include "poolers/head.h"

#include <fmt/format.h>

namespace vkcls {

Head::Head(Context& ctx, const WeightStore& store, EncoderFamily family, const std::string& prefix, HeadTask task,
           int64_t H, ops::Pool pooling)
    : ctx_(ctx), task_(task), pooling_(pooling) {
  weights_ = std::make_unique<DeviceWeights>(ctx, store, DType::f32);
  DeviceWeights& w = *weights_;
  auto linear = [&](const std::string& name, ops::Act act) {
    const WeightView& v = store.get(name + ".weight", {-1, -1});
    int64_t out = v.shape[0], in = v.shape[1];
    Linear l{w.f32(name + ".weight", {out, in}), w.f32(name + ".bias", {out}), act};
    layers_.push_back(l);
    return out;
  };
  if (task == HeadTask::embed) {
    outputs_ = H;
    return;
  }
  if (task == HeadTask::token) {
    pooling_ = ops::Pool::first;  // unused: every token goes through the classifier
    outputs_ = linear("classifier", ops::Act::none);
    return;
  }
  pooling_ = ops::Pool::first;  // every encoder classification head reads the first token (CLS / <s>)
  switch (family) {
    case EncoderFamily::bert:
    case EncoderFamily::ernie:
      linear(prefix + "pooler.dense", ops::Act::tanh);
      outputs_ = linear("classifier", ops::Act::none);
      break;
    case EncoderFamily::roberta:
      linear("classifier.dense", ops::Act::tanh);
      outputs_ = linear("classifier.out_proj", ops::Act::none);
      break;
    case EncoderFamily::electra:
      linear("classifier.dense", ops::Act::gelu_erf);
      outputs_ = linear("classifier.out_proj", ops::Act::none);
      break;
    case EncoderFamily::distilbert:
      linear("pre_classifier", ops::Act::relu);
      outputs_ = linear("classifier", ops::Act::none);
      break;
  }
  if (layers_.front().w.dim(1) != H)
    throw std::invalid_argument(fmt::format("classification head input {} does not match hidden_size {}",
                                            layers_.front().w.dim(1), H));
}

Tensor Head::run(Recorder& rec, Arena& scratch, const Tensor& hidden, const PackedBatch& b) {
  Tensor x = hidden;
  if (task_ != HeadTask::token) {
    x = scratch.alloc(DType::f32, {b.seqs, hidden.dim(1)});
    ops::pool(ctx_, rec, hidden, b.cu_seqlens, x, pooling_);
  }
  for (const Linear& l : layers_) {
    Tensor y = scratch.alloc(DType::f32, {x.dim(0), l.w.dim(0)});
    ops::gemm(ctx_, rec, x, l.w, y, {.bias = &l.b, .act = l.act});
    x = y;
  }
  return x;
}

}  // namespace vkcls
