// Compiles Boost.Asio once for the whole project (BOOST_ASIO_SEPARATE_COMPILATION).
#include "vsocklib/asio.hpp"

#include <boost/asio/impl/src.hpp>
