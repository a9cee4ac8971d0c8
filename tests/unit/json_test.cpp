// vsocklib/json.hpp: the layout people read and shell tests grep, and string escaping.
#include "vsocklib/json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace vsocklib {
namespace {

namespace json = boost::json;

TEST(Json, StringsAreEscaped) {
  EXPECT_EQ(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(json_string(std::string_view("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(json_string(""), "\"\"");
}

TEST(Json, TopLevelMembersOnePerLineInInsertionOrder) {
  json::object doc;
  doc["role"] = "host";
  doc["count"] = 3;
  doc["groups"] = json::array{"239.1.1.1", "239.1.1.2"};
  doc["drops"] = json::object{{"echo", 2}};
  EXPECT_EQ(to_text(doc),
            "{\n"
            "  \"role\": \"host\",\n"
            "  \"count\": 3,\n"
            "  \"groups\": [\"239.1.1.1\", \"239.1.1.2\"],\n"
            "  \"drops\": {\"echo\": 2}\n"
            "}\n");
}

TEST(Json, ArraysOfObjectsPutEachOnItsOwnLine) {
  json::object doc;
  json::array guests;
  guests.push_back(json::object{{"name", "a"}, {"up", true}});
  guests.push_back(json::object{{"name", "b"}, {"up", false}});
  doc["guests"] = std::move(guests);
  doc["none"] = json::array();
  EXPECT_EQ(to_text(doc),
            "{\n"
            "  \"guests\": [\n"
            "    {\"name\": \"a\", \"up\": true},\n"
            "    {\"name\": \"b\", \"up\": false}\n"
            "  ],\n"
            "  \"none\": []\n"
            "}\n");
}

TEST(Json, TextAndLineParseBackToTheSameDocument) {
  json::object doc;
  doc["s"] = "quote \" and newline \n";
  doc["n"] = std::uint64_t{18446744073709551615u};
  doc["x"] = json::array{json::object{{"k", json::array{1, 2}}}};
  EXPECT_EQ(json::parse(to_text(doc)), json::value(doc));
  EXPECT_EQ(json::parse(to_line(doc)), json::value(doc));
  EXPECT_EQ(to_line(json::object{{"a", 1}}), "{\"a\":1}");
}

TEST(Json, DoublesAreWrittenAsPeopleWriteThem) {
  EXPECT_EQ(to_line(json::array{1.5, 123.457, 1.0, 0.001, -2.25}), "[1.5,123.457,1,0.001,-2.25]");
  EXPECT_EQ(to_line(json::array{std::numeric_limits<double>::infinity(), std::nan("")}),
            "[null,null]");
  EXPECT_EQ(json::parse(to_line(json::array{0.1})).at(0).as_double(), 0.1);
}

TEST(Json, NonObjectsAndEmptyObjectsStayOnOneLine) {
  EXPECT_EQ(to_text(json::object()), "{}\n");
  EXPECT_EQ(to_text(json::array{1, 2}), "[1, 2]\n");
}

}  // namespace
}  // namespace vsocklib
