#include "vsocklib/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

// Boost.JSON is compiled here, once, for the library and every program that links it.
#include <boost/json/src.hpp>

namespace vsocklib {

namespace {

namespace json = boost::json;

struct layout {
  const char* item_sep;  // between members or elements
  const char* key_sep;   // between a key and its value
};
constexpr layout kSpaced{", ", ": "};
constexpr layout kCompact{",", ":"};

// Boost.JSON writes doubles as 1.5E0; people and shell tools read 1.5. The shortest form
// that reads back to the same double, and null for what JSON cannot hold (inf, NaN).
void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void append(std::string& out, const json::value& v, const layout& l) {
  if (const auto* o = v.if_object()) {
    out += '{';
    bool first = true;
    for (const auto& m : *o) {
      if (!first) out += l.item_sep;
      first = false;
      out += json::serialize(json::string_view(m.key()));
      out += l.key_sep;
      append(out, m.value(), l);
    }
    out += '}';
  } else if (const auto* a = v.if_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : *a) {
      if (!first) out += l.item_sep;
      first = false;
      append(out, e, l);
    }
    out += ']';
  } else if (const auto* d = v.if_double()) {
    append_double(out, *d);
  } else {
    out += json::serialize(v);
  }
}

bool holds_objects(const json::array& a) {
  return !a.empty() &&
         std::all_of(a.begin(), a.end(), [](const json::value& e) { return e.is_object(); });
}

}  // namespace

std::string to_text(const json::value& doc) {
  std::string out;
  const auto* o = doc.if_object();
  if (!o || o->empty()) {
    append(out, doc, kSpaced);
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
        append(out, (*a)[i], kSpaced);
        out += i + 1 < a->size() ? ",\n" : "\n";
      }
      out += "  ]";
    } else {
      append(out, m.value(), kSpaced);
    }
  }
  return out + "\n}\n";
}

std::string to_line(const json::value& doc) {
  std::string out;
  append(out, doc, kCompact);
  return out;
}

std::string json_string(std::string_view s) {
  return json::serialize(json::string_view(s.data(), s.size()));
}

}  // namespace vsocklib
