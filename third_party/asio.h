#pragma once
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>; g++ 12 in C++20 mode then fails. Include Asio only through here.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
