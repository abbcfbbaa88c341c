// The input format: JSON lines, timestamps, age bands, and the line reader's
// limits.

#include "safeguard/text/message.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace safeguard::text {
namespace {

Status Parse(const std::string& line, Message* m, const MessageLimits& limits = {}) {
  return ParseMessageJson(line, limits, m);
}

TEST(ParseMessageJson, ReadsEveryField) {
  Message m;
  ASSERT_TRUE(Parse(R"({"conversation": "c1", "message": 7, "sender": "u1", "recipients": ["u2", 3],
      "timestamp": "2024-05-01T16:05:00Z", "text": "hi there", "unknown_key": [1],
      "facts": {"sender_minor": false, "sender_age_band": "25-34", "recipient_minor": true,
                "recipient_age_band": "13-15", "sender_account_age_days": 2.5, "connected": false,
                "future_fact": 1}})",
                    &m)
                  .ok());
  EXPECT_EQ(m.conversation_id, "c1");
  EXPECT_EQ(m.message_id, "7");
  EXPECT_EQ(m.sender_id, "u1");
  EXPECT_EQ(m.recipient_ids, (std::vector<std::string>{"u2", "3"}));
  EXPECT_EQ(m.timestamp_ms, 1714579500000);
  EXPECT_EQ(m.text, "hi there");
  EXPECT_EQ(m.facts.sender_minor, false);
  EXPECT_EQ(m.facts.sender_age, (AgeBand{25, 34}));
  EXPECT_EQ(m.facts.recipient_minor, true);
  EXPECT_EQ(m.facts.recipient_age, (AgeBand{13, 15}));
  EXPECT_EQ(m.facts.sender_account_age_days, 2.5);
  EXPECT_EQ(m.facts.connected, false);
}

TEST(ParseMessageJson, OptionalFieldsMayBeAbsentOrNull) {
  Message m;
  ASSERT_TRUE(
      Parse(R"({"conversation": "c", "message": "m", "sender": "s", "text": ""})", &m).ok());
  EXPECT_FALSE(m.timestamp_ms.has_value());
  EXPECT_TRUE(m.recipient_ids.empty());
  ASSERT_TRUE(Parse(R"({"conversation": "c", "message": "m", "sender": "s", "text": "x",
                       "timestamp": null, "facts": null, "recipients": null})",
                    &m)
                  .ok());
  ASSERT_TRUE(
      Parse(
          R"({"conversation": "c", "message": "m", "sender": "s", "text": "x", "timestamp": 1714579500.25})",
          &m)
          .ok());
  EXPECT_EQ(m.timestamp_ms, 1714579500250);
}

TEST(ParseMessageJson, ErrorsSayWhatIsWrong) {
  Message m;
  auto err = [&](const std::string& line) { return Parse(line, &m).message(); };
  EXPECT_NE(err("{oops").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(err("[1]"), "not a JSON object");
  EXPECT_EQ(err(R"({"message": "m", "sender": "s", "text": "x"})"), "\"conversation\" is missing");
  EXPECT_EQ(err(R"({"conversation": "c", "message": "m", "sender": "s"})"), "\"text\" is missing");
  EXPECT_EQ(err(R"({"conversation": "", "message": "m", "sender": "s", "text": "x"})"),
            "\"conversation\" is empty");
  EXPECT_EQ(err(R"({"conversation": 1.5, "message": "m", "sender": "s", "text": "x"})"),
            "\"conversation\" must be a string or an integer");
  EXPECT_EQ(err(R"({"conversation": "c", "message": "m", "sender": "s", "text": 3})"),
            "\"text\" must be a string");
  EXPECT_NE(err(R"({"conversation": "c", "message": "m", "sender": "s", "text": "x",
                   "timestamp": "yesterday"})")
                .find("\"timestamp\": timestamp \"yesterday\" is not ISO 8601"),
            std::string::npos);
  EXPECT_NE(err(R"({"conversation": "c", "message": "m", "sender": "s", "text": "x",
                   "facts": {"recipient_age_band": "teen"}})")
                .find("facts.recipient_age_band"),
            std::string::npos);
  EXPECT_EQ(err(R"({"conversation": "c", "message": "m", "sender": "s", "text": "x",
                   "facts": {"connected": "yes"}})"),
            "\"facts.connected\" must be true or false");
  EXPECT_EQ(err(R"({"conversation": "c", "message": "m", "sender": "s", "text": "x",
                   "recipients": "u2"})"),
            "\"recipients\" must be an array");
  // Invalid UTF-8 inside a string is not JSON.
  EXPECT_NE(
      err("{\"conversation\": \"c\", \"message\": \"m\", \"sender\": \"s\", \"text\": \"\xFF\"}")
          .find("not valid JSON"),
      std::string::npos);
}

TEST(ParseMessageJson, EnforcesLimits) {
  Message m;
  MessageLimits limits;
  limits.max_text_bytes = 4;
  limits.max_id_bytes = 3;
  limits.max_recipients = 1;
  limits.max_line_bytes = 200;
  auto code = [&](const std::string& line) { return Parse(line, &m, limits).code(); };
  EXPECT_EQ(code(R"({"conversation": "c", "message": "m", "sender": "s", "text": "12345"})"),
            ErrorCode::kLimitExceeded);
  EXPECT_EQ(code(R"({"conversation": "cccc", "message": "m", "sender": "s", "text": "1"})"),
            ErrorCode::kLimitExceeded);
  EXPECT_EQ(code(R"({"conversation": "c", "message": "m", "sender": "s", "text": "1",
                     "recipients": ["a", "b"]})"),
            ErrorCode::kLimitExceeded);
  EXPECT_EQ(code(std::string(201, ' ')), ErrorCode::kLimitExceeded);
  EXPECT_TRUE(
      Parse(R"({"conversation": "c", "message": "m", "sender": "s", "text": "1234"})", &m, limits)
          .ok());
}

TEST(ParseTimestamp, IsoFormsAndEpochSeconds) {
  EXPECT_EQ(*ParseTimestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTimestamp("1970-01-01"), 0);
  EXPECT_EQ(*ParseTimestamp("2024-05-01T16:05:00Z"), 1714579500000);
  EXPECT_EQ(*ParseTimestamp("2024-05-01 16:05:00.250Z"), 1714579500250);
  EXPECT_EQ(*ParseTimestamp("2024-05-01T18:05:00+02:00"), 1714579500000);
  EXPECT_EQ(*ParseTimestamp("2024-05-01T11:05-0500"), 1714579500000);
  EXPECT_EQ(*ParseTimestamp("2024-05-01T16:05"), 1714579500000);
  EXPECT_EQ(*ParseTimestamp("2024-02-29T00:00:00Z"), 1709164800000);  // leap day
  EXPECT_EQ(*ParseTimestamp("1714579500"), 1714579500000);
  for (const char* bad : {"", "2024-13-01", "2023-02-29", "2024-05-01T25:00", "2024-05-01X16:05",
                          "2024-05-01T16:05:00+2", "2024-05-01T16:05:00Zjunk", "16:05", "abc",
                          "2024-05-01T16:05:00."}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(ParseAgeBand, Forms) {
  EXPECT_EQ(*ParseAgeBand("13-15"), (AgeBand{13, 15}));
  EXPECT_EQ(*ParseAgeBand("18+"), (AgeBand{18, AgeBand::kOpenAge}));
  EXPECT_EQ(*ParseAgeBand("16"), (AgeBand{16, 16}));
  for (const char* bad : {"", "15-13", "teen", "-3", "1000", "13-", "+"}) {
    EXPECT_FALSE(ParseAgeBand(bad).ok()) << bad;
  }
}

// A temporary FILE* holding `content`.
std::FILE* Stream(const std::string& content) {
  std::FILE* f = std::tmpfile();
  std::fwrite(content.data(), 1, content.size(), f);
  std::rewind(f);
  return f;
}

TEST(JsonLinesReader, LinesCrlfAndLastLineWithoutNewline) {
  std::FILE* f = Stream("a\r\nbb\n\nccc");
  JsonLinesReader r(f, 100);
  std::string_view line;
  ASSERT_EQ(r.Next(&line), JsonLinesReader::kLine);
  EXPECT_EQ(line, "a");
  ASSERT_EQ(r.Next(&line), JsonLinesReader::kLine);
  EXPECT_EQ(line, "bb");
  ASSERT_EQ(r.Next(&line), JsonLinesReader::kLine);
  EXPECT_EQ(line, "");
  ASSERT_EQ(r.Next(&line), JsonLinesReader::kLine);
  EXPECT_EQ(line, "ccc");
  EXPECT_EQ(r.line_number(), 4u);
  EXPECT_EQ(r.Next(&line), JsonLinesReader::kEnd);
  std::fclose(f);
}

TEST(JsonLinesReader, SkipsLinesOverTheLimitWithoutBufferingThem) {
  // One line far longer than the buffer (limit + 64 KiB), between two short ones.
  const std::string huge(300000, 'x');
  std::FILE* f = Stream("short\n" + huge + "\nafter\n" + std::string(20, 'y'));
  JsonLinesReader r(f, 10);
  std::string_view line;
  ASSERT_EQ(r.Next(&line), JsonLinesReader::kLine);
  EXPECT_EQ(line, "short");
  EXPECT_EQ(r.Next(&line), JsonLinesReader::kTooLong);
  EXPECT_EQ(r.line_number(), 2u);
  ASSERT_EQ(r.Next(&line), JsonLinesReader::kLine);
  EXPECT_EQ(line, "after");
  EXPECT_EQ(r.line_number(), 3u);
  EXPECT_EQ(r.Next(&line), JsonLinesReader::kTooLong);  // 20 > 10, at end of file
  EXPECT_EQ(r.Next(&line), JsonLinesReader::kEnd);
  std::fclose(f);
}

TEST(JsonLinesReader, ManyLinesAcrossBufferRefills) {
  std::string content;
  for (int i = 0; i < 50000; ++i) content += std::to_string(i) + "\n";
  std::FILE* f = Stream(content);
  JsonLinesReader r(f, 16);
  std::string_view line;
  int expected = 0;
  while (r.Next(&line) == JsonLinesReader::kLine) {
    ASSERT_EQ(line, std::to_string(expected));
    ++expected;
  }
  EXPECT_EQ(expected, 50000);
  std::fclose(f);
}

}  // namespace
}  // namespace safeguard::text
