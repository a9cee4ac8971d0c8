// JSON for every document the toolkit writes (status, reports, probe output): Boost.JSON's
// value types build them, and to_text() lays them out for people. This header stays light;
// code that builds a document includes <boost/json/value.hpp> itself.
#pragma once

#include <string>
#include <string_view>

namespace boost::json {
class value;
}

namespace vsocklib {

/// DOC as text ending in a newline. An object's members go one per line; an array of
/// objects puts each object on its own line; everything inside those stays on one line,
/// with ", " and ": " between items, so a line can be read (and grepped) on its own.
/// Members keep the order they were inserted in.
std::string to_text(const boost::json::value& doc);

/// DOC on one line without spaces (a record in a log or a JSON-lines file), no newline.
std::string to_line(const boost::json::value& doc);

/// S as a JSON string literal, quotes included.
std::string json_string(std::string_view s);

}  // namespace vsocklib
