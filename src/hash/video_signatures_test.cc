// vPDQ and TMK from one decode (video_hash.h) against each hashed alone.

#include <gtest/gtest.h>

#include <string>

#include "safeguard/hash/video_hash.h"
#include "test_support.h"

namespace safeguard {
namespace {

std::string Clip(const std::string& name) {
  return test_support::TestDataDir() + "/tmk/sample-videos/" + name;
}

TEST(VideoSignatures, OneDecodeGivesWhatEachFingerprintGivesAlone) {
  SAFEGUARD_REQUIRE_TESTDATA();
  for (const char* clip : {"chair-19-sd-bar.mp4", "doorknob-hd-no-bar.mp4"}) {
    SCOPED_TRACE(clip);
    VpdqOptions vpdq;
    TmkOptions tmk;
    Result<VpdqSignature> v = VpdqHashFile(Clip(clip), vpdq);
    Result<TmkSignature> t = TmkHashFile(Clip(clip), tmk);
    ASSERT_TRUE(v.ok() && t.ok());

    Result<std::unique_ptr<VideoDecoder>> video = VideoDecoder::OpenFile(Clip(clip), {});
    ASSERT_TRUE(video.ok());
    Result<VideoSignatures> both = VideoSignaturesOf(**video, vpdq, &tmk);
    ASSERT_TRUE(both.ok()) << both.status().ToString();
    EXPECT_EQ(both->vpdq.frames, v->frames);
    ASSERT_TRUE(both->tmk.has_value());
    EXPECT_EQ(TmkToBytes(*both->tmk), TmkToBytes(*t));
    EXPECT_GE(v->frames.size(), 4u);  // doorknob: 4 s at 1 frame/s
  }
}

TEST(VideoSignatures, VpdqAloneAndBadOptions) {
  SAFEGUARD_REQUIRE_TESTDATA();
  VpdqOptions vpdq;
  vpdq.seconds_per_hash = 0.5;
  Result<VpdqSignature> v = VpdqHashFile(Clip("pattern-sd-grey-bar.mp4"), vpdq);
  Result<std::unique_ptr<VideoDecoder>> video =
      VideoDecoder::OpenFile(Clip("pattern-sd-grey-bar.mp4"), {});
  ASSERT_TRUE(v.ok() && video.ok());
  Result<VideoSignatures> only = VideoSignaturesOf(**video, vpdq, nullptr);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->vpdq.frames, v->frames);
  EXPECT_FALSE(only->tmk.has_value());

  vpdq.downsample_width = 128;  // without a height
  Result<std::unique_ptr<VideoDecoder>> again =
      VideoDecoder::OpenFile(Clip("pattern-sd-grey-bar.mp4"), {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(VideoSignaturesOf(**again, vpdq, nullptr).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace safeguard
