#include "safeguard/text/pan.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cstring>

#include "safeguard/core/file.h"

namespace safeguard::text {
namespace {

// 1-based line and column of a byte offset.
std::pair<size_t, size_t> LineColumn(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

Result<std::vector<PanConversation>> ParsePanXml(std::string_view xml, std::string_view origin,
                                                 const PanLimits& limits) {
  if (xml.size() > limits.max_file_bytes) {
    return Status::LimitExceeded(std::string(origin) + ": " + std::to_string(xml.size()) +
                                 " bytes exceeds max_file_bytes " +
                                 std::to_string(limits.max_file_bytes));
  }
  pugi::xml_document doc;
  // parse_default: no DOCTYPE processing, no external entities; only the
  // five predefined entities and character references are expanded.
  const pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  auto at = [&](ptrdiff_t offset) {
    const auto [line, column] =
        LineColumn(xml, static_cast<size_t>(std::max<ptrdiff_t>(offset, 0)));
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
  };
  if (!parsed) {
    return Status::Corrupt(std::string(origin) + ": malformed XML at " + at(parsed.offset) + ": " +
                           parsed.description());
  }
  const pugi::xml_node root = doc.document_element();
  if (std::strcmp(root.name(), "conversations") != 0) {
    return Status::Corrupt(std::string(origin) + ": the root element is <" + root.name() +
                           ">, expected <conversations>");
  }
  auto corrupt = [&](const pugi::xml_node& node, const std::string& what) {
    return Status::Corrupt(std::string(origin) + ": " + what + " at " + at(node.offset_debug()));
  };
  auto too_long = [&](const pugi::xml_node& node, const char* what, size_t size, size_t limit) {
    return Status::LimitExceeded(std::string(origin) + ": " + what + " of " + std::to_string(size) +
                                 " bytes, more than " + std::to_string(limit) + ", at " +
                                 at(node.offset_debug()));
  };
  std::vector<PanConversation> corpus;
  size_t total = 0;
  for (pugi::xml_node conv : root.children("conversation")) {
    PanConversation c;
    const pugi::xml_attribute id = conv.attribute("id");
    if (!id || id.value()[0] == '\0') return corrupt(conv, "<conversation> without an id");
    c.id = id.value();
    if (c.id.size() > limits.max_id_bytes) {
      return too_long(conv, "conversation id", c.id.size(), limits.max_id_bytes);
    }
    for (pugi::xml_node msg : conv.children("message")) {
      if (++total > limits.max_messages) {
        return Status::LimitExceeded(std::string(origin) + ": more than " +
                                     std::to_string(limits.max_messages) +
                                     " messages (max_messages)");
      }
      PanMessage m;
      m.line = msg.attribute("line").as_int(0);
      const pugi::xml_node author = msg.child("author");
      if (!author) return corrupt(msg, "<message> without an <author>");
      m.author = Trim(author.text().get());
      if (m.author.empty()) return corrupt(msg, "<message> with an empty <author>");
      if (m.author.size() > limits.max_id_bytes) {
        return too_long(msg, "author", m.author.size(), limits.max_id_bytes);
      }
      m.time = Trim(msg.child("time").text().get());
      m.text = msg.child("text").text().get();
      if (m.text.size() > limits.max_text_bytes) {
        return too_long(msg, "<text>", m.text.size(), limits.max_text_bytes);
      }
      c.messages.push_back(std::move(m));
    }
    corpus.push_back(std::move(c));
  }
  return corpus;
}

Result<std::vector<PanConversation>> ReadPanXml(const std::string& path, const PanLimits& limits) {
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, limits.max_file_bytes);
  if (!bytes.ok()) return bytes.status();
  return ParsePanXml(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()),
                     path, limits);
}

Result<std::unordered_set<std::string>> ReadAuthorList(const std::string& path,
                                                       uint64_t max_bytes) {
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, max_bytes);
  if (!bytes.ok()) return bytes.status();
  std::unordered_set<std::string> ids;
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string id = Trim(text.substr(start, end - start));
    if (!id.empty()) ids.insert(std::move(id));
    start = end + 1;
  }
  return ids;
}

int PanTimeSeconds(std::string_view t) {
  int parts[3] = {0, 0, 0};
  int count = 0;
  size_t i = 0;
  while (count < 3) {
    int v = 0;
    size_t digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && digits < 2) {
      v = v * 10 + (t[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return -1;
    parts[count++] = v;
    if (i == t.size()) break;
    if (t[i] != ':') return -1;
    ++i;
  }
  if (i != t.size() || count < 2 || parts[0] > 23 || parts[1] > 59 || parts[2] > 59) return -1;
  return parts[0] * 3600 + parts[1] * 60 + parts[2];
}

std::vector<Message> PanToMessages(const std::vector<PanConversation>& corpus) {
  std::vector<Message> out;
  for (const PanConversation& c : corpus) {
    std::vector<Message> part = PanToMessages(c);
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  return out;
}

std::vector<Message> PanToMessages(const PanConversation& c) {
  std::vector<Message> out;
  {
    std::vector<std::string> authors;
    for (const PanMessage& m : c.messages) {
      if (std::find(authors.begin(), authors.end(), m.author) == authors.end()) {
        authors.push_back(m.author);
      }
    }
    int64_t day = 0;
    int previous = -1;
    int64_t last_ms = 0;
    for (size_t i = 0; i < c.messages.size(); ++i) {
      const PanMessage& pm = c.messages[i];
      Message m;
      m.conversation_id = c.id;
      m.message_id = pm.line > 0 ? std::to_string(pm.line) : std::to_string(i + 1);
      m.sender_id = pm.author;
      for (const std::string& a : authors) {
        if (a != pm.author) m.recipient_ids.push_back(a);
      }
      const int seconds = PanTimeSeconds(pm.time);
      if (seconds >= 0) {
        if (previous >= 0 && seconds < previous) ++day;
        previous = seconds;
        last_ms = (day * 86400 + seconds) * 1000;
      }
      m.timestamp_ms = last_ms;
      m.text = pm.text;
      out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace safeguard::text
