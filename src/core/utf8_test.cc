#include "safeguard/core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace safeguard {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  for (const char* ok : {"", "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x93\xb7",
                         "\xf4\x8f\xbf\xbf" /* U+10FFFF */, "\xed\x9f\xbf" /* U+D7FF */}) {
    EXPECT_TRUE(IsUtf8(ok)) << ok;
  }
  EXPECT_TRUE(IsUtf8(std::string_view("nul \0 inside", 12)));
}

TEST(Utf8, NamesTheFirstBadByte) {
  struct Case {
    std::string text;
    size_t first_bad;
  };
  for (const Case& c :
       {Case{"\xff", 0}, Case{"ab\xfe", 2}, Case{"a\xc3", 1} /* truncated */,
        Case{"a\xc3(", 1} /* not a continuation */, Case{"\xc0\xaf", 0} /* overlong '/' */,
        Case{"\xe0\x80\xaf", 0} /* overlong, 3 bytes */, Case{"x\xed\xa0\x80", 1} /* a surrogate */,
        Case{"\xf4\x90\x80\x80", 0} /* past U+10FFFF */,
        Case{"ok \xe2\x82\xac \x80", 7} /* a lone continuation byte */}) {
    EXPECT_EQ(FirstInvalidUtf8(c.text), c.first_bad) << c.text;
    EXPECT_FALSE(IsUtf8(c.text));
  }
}

}  // namespace
}  // namespace safeguard
