#include "safeguard/engine/config.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace safeguard {
namespace {

TEST(ServiceConfig, DefaultsAreTheDocumentedOnes) {
  ServiceConfig c;
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.store_url, kDefaultStoreUrl);
  EXPECT_EQ(c.pdq_mode, PdqMode::kCanonical);
  EXPECT_TRUE(c.video);
  EXPECT_TRUE(c.video_tmk);
  EXPECT_DOUBLE_EQ(c.vpdq_seconds, 1.0);
  EXPECT_DOUBLE_EQ(c.max_video_seconds, 3600.0);
  EXPECT_EQ(ServiceConfigKeys().size(), 24u);
}

TEST(ServiceConfig, SetParsesTypedValuesAndNamesTheKeyWhenRefusing) {
  ServiceConfig c;
  ASSERT_TRUE(c.Set("listen.port", "9090").ok());
  EXPECT_EQ(c.listen_port, 9090);
  ASSERT_TRUE(c.Set("hash.pdq_mode", "fast").ok());
  EXPECT_EQ(c.pdq_mode, PdqMode::kFast);
  ASSERT_TRUE(c.Set("rate.per_key", "2.5").ok());
  EXPECT_DOUBLE_EQ(c.rate_per_key, 2.5);
  ASSERT_TRUE(c.Set("hash.dihedral", "false").ok());
  EXPECT_FALSE(c.pdq_dihedral);
  ASSERT_TRUE(c.Set("hash.video_tmk", "false").ok());
  EXPECT_FALSE(c.video_tmk);
  ASSERT_TRUE(c.Set("hash.vpdq_seconds", "0.5").ok());
  EXPECT_DOUBLE_EQ(c.vpdq_seconds, 0.5);
  EXPECT_FALSE(c.Set("hash.vpdq_seconds", "0").ok());
  ASSERT_TRUE(c.Set("limits.max_body_bytes", "1048576").ok());
  EXPECT_EQ(c.max_body_bytes, 1048576);

  struct Bad {
    const char* key;
    const char* value;
    const char* says;
  };
  for (const Bad& b :
       {Bad{"listen.port", "99999", "out of range 0..65535"},
        Bad{"listen.port", "80x", "not an integer"}, Bad{"listen.port", "", "not an integer"},
        Bad{"hash.pdq_mode", "slow", "not canonical or fast"},
        Bad{"hash.dihedral", "maybe", "not true or false"},
        Bad{"rate.per_key", "-1", "out of range"}, Bad{"rate.per_key", "nan", "not a number"},
        Bad{"no.such.key", "1", "unknown key"}}) {
    ServiceConfig before;
    ServiceConfig d = before;
    Status s = d.Set(b.key, b.value);
    ASSERT_FALSE(s.ok()) << b.key << "=" << b.value;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(s.message().starts_with(b.key)) << s.message();
    EXPECT_NE(s.message().find(b.says), std::string::npos) << s.message();
    EXPECT_EQ(d.Dump(), before.Dump()) << "a refused value must change nothing";
  }
}

TEST(ServiceConfig, FileLinesAndDumpRoundTrip) {
  test_support::ScratchDir dir;
  const std::string path = dir.Write("a.conf",
                                     "# comment\n\nlisten.port = 7000\n  hash.pdq_mode=fast  \n"
                                     "webhook.secret = abc def\n");
  ServiceConfig c;
  ASSERT_TRUE(c.LoadFile(path).ok());
  EXPECT_EQ(c.listen_port, 7000);
  EXPECT_EQ(c.pdq_mode, PdqMode::kFast);
  EXPECT_EQ(c.webhook_secret, "abc def");
  // The dump hides the secret but otherwise loads back to the same values.
  const std::string dump = c.Dump();
  EXPECT_EQ(dump.find("abc def"), std::string::npos);
  EXPECT_NE(dump.find("listen.port = 7000"), std::string::npos);

  const std::string bad = dir.Write("b.conf", "listen.port = 1\nthreads 4\n");
  Status s = ServiceConfig().LoadFile(bad);
  EXPECT_NE(s.message().find("b.conf:2: expected key = value"), std::string::npos) << s.message();
  const std::string range = dir.Write("c.conf", "\n\nreview.lease_seconds = 1\n");
  s = ServiceConfig().LoadFile(range);
  EXPECT_NE(s.message().find("c.conf:3: review.lease_seconds: 1 is out of range 10..86400"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(ServiceConfig().LoadFile(dir.File("missing.conf")).code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace safeguard
