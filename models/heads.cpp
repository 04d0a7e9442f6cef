#include "models/heads.h"

#include <fmt/format.h>

#include "vkcls/types.h"

namespace vkcls {

HeadSpec load_head(DeviceWeights& w, const std::vector<HeadLayerName>& layers,
                   int64_t in_features) {
  const WeightStore& s = w.store();
  HeadSpec h;
  h.in_features = in_features;
  int64_t width = in_features;
  for (const HeadLayerName& n : layers) {
    HeadLayer l;
    l.kind = n.kind;
    l.act = n.act;
    l.eps = n.eps;
    const std::string wn = n.name + ".weight", bn = n.name + ".bias";
    if (n.kind == HeadLayer::Kind::layer_norm) {
      l.w = w.f32(wn, {width});
      if (s.has(bn)) l.b = w.f32(bn, {width});
    } else {
      const WeightView& v = s.get(wn, {-1, -1});
      if (v.shape[1] != width)
        throw Error(ErrorKind::model,
                    fmt::format("head layer {} takes {} inputs, but the layer before gives {}", wn,
                                v.shape[1], width));
      l.w = w.f32(wn, {v.shape[0], width});
      width = v.shape[0];
      if (s.has(bn)) l.b = w.f32(bn, {width});
    }
    h.layers.push_back(std::move(l));
  }
  h.out_features = width;
  return h;
}

}  // namespace vkcls
