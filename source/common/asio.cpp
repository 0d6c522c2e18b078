// The one translation unit that compiles Asio and Beast; everything else only
// includes their headers (BOOST_*_SEPARATE_COMPILATION).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
