#include "vsocklib/json.hpp"

#include <algorithm>

// Boost.JSON is compiled here, once, for the library and every program that links it.
#include <boost/json/src.hpp>

namespace vsocklib {

namespace {

namespace json = boost::json;

// Scalars and everything below the second level: one line, with spaces after separators.
void append_inline(std::string& out, const json::value& v) {
  if (const auto* o = v.if_object()) {
    out += '{';
    bool first = true;
    for (const auto& m : *o) {
      if (!first) out += ", ";
      first = false;
      out += json::serialize(json::string_view(m.key()));
      out += ": ";
      append_inline(out, m.value());
    }
    out += '}';
  } else if (const auto* a = v.if_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : *a) {
      if (!first) out += ", ";
      first = false;
      append_inline(out, e);
    }
    out += ']';
  } else {
    out += json::serialize(v);
  }
}

bool holds_objects(const json::array& a) {
  return !a.empty() && std::all_of(a.begin(), a.end(), [](const json::value& e) { return e.is_object(); });
}

}  // namespace

std::string to_text(const json::value& doc) {
  std::string out;
  const auto* o = doc.if_object();
  if (!o || o->empty()) {
    append_inline(out, doc);
    return out + "\n";
  }
  out += "{\n";
  bool first = true;
  for (const auto& m : *o) {
    if (!first) out += ",\n";
    first = false;
    out += "  " + json::serialize(json::string_view(m.key())) + ": ";
    const auto* a = m.value().if_array();
    if (a && holds_objects(*a)) {
      out += "[\n";
      for (std::size_t i = 0; i < a->size(); ++i) {
        out += "    ";
        append_inline(out, (*a)[i]);
        out += i + 1 < a->size() ? ",\n" : "\n";
      }
      out += "  ]";
    } else {
      append_inline(out, m.value());
    }
  }
  return out + "\n}\n";
}

std::string to_line(const json::value& doc) { return json::serialize(doc); }

std::string json_string(std::string_view s) { return json::serialize(json::string_view(s.data(), s.size())); }

}  // namespace vsocklib
