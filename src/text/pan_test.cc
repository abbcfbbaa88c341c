// The PAN 2012 format: parsing, malformed XML, structure errors, limits,
// the predator list, clock times.

#include "safeguard/text/pan.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace safeguard::text {
namespace {

const std::string kTestData = SAFEGUARD_TEXT_TESTDATA;

std::string Xml(const std::string& body) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<conversations>\n" + body +
         "</conversations>\n";
}

TEST(PanXml, ParsesConversationsMessagesAndEntities) {
  const std::string xml = Xml(R"(<conversation id="c1">
  <message line="1"><author> a1 </author><time>23:59</time><text>hi &lt;3 &amp; bye</text></message>
  <message line="2"><author>a2</author><time>00:01</time><text/></message>
</conversation>
<conversation id="c2"></conversation>
)");
  Result<std::vector<PanConversation>> corpus = ParsePanXml(xml, "t.xml");
  ASSERT_TRUE(corpus.ok()) << corpus.status().ToString();
  ASSERT_EQ(corpus->size(), 2u);
  const PanConversation& c = (*corpus)[0];
  EXPECT_EQ(c.id, "c1");
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].author, "a1");  // trimmed
  EXPECT_EQ(c.messages[0].line, 1);
  EXPECT_EQ(c.messages[0].time, "23:59");
  EXPECT_EQ(c.messages[0].text, "hi <3 & bye");
  EXPECT_EQ(c.messages[1].text, "");
  EXPECT_TRUE((*corpus)[1].messages.empty());

  const std::vector<Message> msgs = PanToMessages(*corpus);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].conversation_id, "c1");
  EXPECT_EQ(msgs[0].message_id, "1");
  EXPECT_EQ(msgs[0].recipient_ids, std::vector<std::string>{"a2"});
  EXPECT_EQ(msgs[0].timestamp_ms, (23 * 3600 + 59 * 60) * 1000LL);
  EXPECT_EQ(msgs[1].timestamp_ms, (86400 + 60) * 1000LL);  // past midnight: the next day
}

TEST(PanXml, MalformedXmlIsAClearErrorWithItsPosition) {
  const Status unclosed = ParsePanXml(Xml("<conversation id=\"c\"><message>"), "x.xml").status();
  EXPECT_EQ(unclosed.code(), ErrorCode::kCorrupt);
  EXPECT_NE(unclosed.message().find("x.xml: malformed XML at line"), std::string::npos)
      << unclosed.message();
  const Status mismatch =
      ParsePanXml("<conversations>\n<conversation id=\"c\">\n</message>\n", "y.xml").status();
  EXPECT_EQ(mismatch.code(), ErrorCode::kCorrupt);
  EXPECT_NE(mismatch.message().find("line 3"), std::string::npos) << mismatch.message();
  EXPECT_EQ(ParsePanXml("", "e.xml").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(ParsePanXml("not xml at all", "e.xml").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(ParsePanXml("<conversations><a b=\"1></a></conversations>", "e.xml").status().code(),
            ErrorCode::kCorrupt);
}

TEST(PanXml, StructureErrorsNameTheElement) {
  EXPECT_EQ(ParsePanXml("<chats/>", "s.xml").status().message(),
            "s.xml: the root element is <chats>, expected <conversations>");
  const Status no_id =
      ParsePanXml(Xml("<conversation><message/></conversation>"), "s.xml").status();
  EXPECT_NE(no_id.message().find("<conversation> without an id at line 3"), std::string::npos)
      << no_id.message();
  const Status no_author =
      ParsePanXml(
          Xml("<conversation id=\"c\"><message line=\"1\"><text>x</text></message></conversation>"),
          "s.xml")
          .status();
  EXPECT_NE(no_author.message().find("<message> without an <author>"), std::string::npos);
  const Status empty_author =
      ParsePanXml(
          Xml("<conversation id=\"c\"><message><author> </author></message></conversation>"),
          "s.xml")
          .status();
  EXPECT_NE(empty_author.message().find("empty <author>"), std::string::npos);
}

TEST(PanXml, NoDoctypeOrExternalEntityProcessing) {
  // An external entity is neither fetched nor expanded: the reference is
  // refused as malformed (pugixml knows only the predefined entities) or
  // left as text; either way nothing outside the document is read.
  const std::string xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
      "<conversations><conversation id=\"c\"><message><author>a</author><text>&x;</text>"
      "</message></conversation></conversations>";
  Result<std::vector<PanConversation>> corpus = ParsePanXml(xml, "x.xml");
  if (corpus.ok()) {
    EXPECT_EQ((*corpus)[0].messages[0].text.find("root:"), std::string::npos);
  } else {
    EXPECT_EQ(corpus.status().code(), ErrorCode::kCorrupt);
  }
}

TEST(PanXml, EnforcesLimits) {
  const std::string xml =
      Xml("<conversation id=\"c\"><message><author>a</author><text>12345</text></message>"
          "<message><author>b</author><text>1</text></message></conversation>");
  PanLimits text;
  text.max_text_bytes = 4;
  EXPECT_EQ(ParsePanXml(xml, "l.xml", text).status().code(), ErrorCode::kLimitExceeded);
  PanLimits messages;
  messages.max_messages = 1;
  EXPECT_EQ(ParsePanXml(xml, "l.xml", messages).status().code(), ErrorCode::kLimitExceeded);
  PanLimits bytes;
  bytes.max_file_bytes = 10;
  EXPECT_EQ(ParsePanXml(xml, "l.xml", bytes).status().code(), ErrorCode::kLimitExceeded);
  PanLimits ids;
  ids.max_id_bytes = 0;
  EXPECT_EQ(ParsePanXml(xml, "l.xml", ids).status().code(), ErrorCode::kLimitExceeded);
}

TEST(PanXml, ReadsTheSyntheticCorpusAndItsPredatorList) {
  Result<std::vector<PanConversation>> corpus = ReadPanXml(kTestData + "/pan_small.xml");
  ASSERT_TRUE(corpus.ok()) << corpus.status().ToString();
  EXPECT_EQ(corpus->size(), 8u);
  size_t messages = 0;
  for (const PanConversation& c : *corpus) messages += c.messages.size();
  EXPECT_EQ(messages, 51u);
  Result<std::unordered_set<std::string>> predators =
      ReadAuthorList(kTestData + "/pan_small_predators.txt");
  ASSERT_TRUE(predators.ok());
  EXPECT_EQ(predators->size(), 3u);
  EXPECT_EQ(ReadPanXml(kTestData + "/missing.xml").status().code(), ErrorCode::kNotFound);
}

TEST(AuthorList, BlankLinesAndWhitespace) {
  test_support::ScratchDir dir;
  Result<std::unordered_set<std::string>> ids =
      ReadAuthorList(dir.Write("p.txt", "a\r\n\n  b  \nc"));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::unordered_set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ReadAuthorList(dir.Write("q.txt", "abcdef"), 3).status().code(),
            ErrorCode::kLimitExceeded);
}

TEST(PanTime, ClockTimes) {
  EXPECT_EQ(PanTimeSeconds("00:00"), 0);
  EXPECT_EQ(PanTimeSeconds("03:20"), 3 * 3600 + 20 * 60);
  EXPECT_EQ(PanTimeSeconds("3:20"), 3 * 3600 + 20 * 60);
  EXPECT_EQ(PanTimeSeconds("23:59:30"), 23 * 3600 + 59 * 60 + 30);
  for (const char* bad : {"", "24:00", "12:60", "12", "ab:cd", "12:30:", "1:2:3:4", "123:00"}) {
    EXPECT_EQ(PanTimeSeconds(bad), -1) << bad;
  }
}

}  // namespace
}  // namespace safeguard::text
