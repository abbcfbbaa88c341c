#include "safeguard/hash/video_hash.h"

#include <vector>

namespace safeguard {

Result<VideoSignatures> VideoSignaturesOf(VideoDecoder& video, const VpdqOptions& vpdq,
                                          const TmkOptions* tmk) {
  Result<FrameSampling> vpdq_sampling = VpdqSampling(vpdq);
  if (!vpdq_sampling.ok()) return vpdq_sampling.status();
  std::vector<FrameSampling> rules = {*vpdq_sampling};
  if (tmk != nullptr) rules.push_back(TmkSampling(*tmk));
  VideoSignatures out;
  out.vpdq.info = video.info();
  TmkBuilder builder;
  Status s = video.SampleEach(rules, [&](size_t rule, const VideoFrame& f) {
    if (rule == 0) {
      out.vpdq.frames.push_back(VpdqHashFrame(f));
    } else {
      builder.AddVideoFrame(f);
    }
    return true;
  });
  if (!s.ok()) return s;
  if (tmk != nullptr) {
    if (builder.frames() == 0) return Status::Corrupt(video.info().codec + ": no frames to hash");
    out.tmk = builder.Finish();
  }
  return out;
}

}  // namespace safeguard
