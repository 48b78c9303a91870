#include "souk/geo.hpp"

#include <doctest/doctest.h>

using namespace souk::geo;

TEST_CASE("distance_m: known distances") {
  CHECK(distance_m(48.8566, 2.3522, 48.8566, 2.3522) == doctest::Approx(0.0));
  // One degree of latitude is about 111.2 km.
  CHECK(distance_m(0, 0, 1, 0) == doctest::Approx(111195.0).epsilon(0.001));
  // Paris to London, about 343.5 km.
  CHECK(distance_m(48.8566, 2.3522, 51.5074, -0.1278) == doctest::Approx(343500).epsilon(0.005));
  // Across the antimeridian is short.
  CHECK(distance_m(0, 179.99, 0, -179.99) < 3000);
}

TEST_CASE("bounding_box contains the circle") {
  const auto box = bounding_box(48.8566, 2.3522, 2000);
  REQUIRE(box.lon_ranges.size() == 1);
  CHECK(box.min_lat < 48.8566 - 0.0179);
  CHECK(box.max_lat > 48.8566 + 0.0179);
  // A point 2 km due east lies inside.
  CHECK(box.lon_ranges[0].second > 2.3522 + 0.027);
}

TEST_CASE("bounding_box splits at the antimeridian and opens at the poles") {
  const auto east = bounding_box(10, 179.999, 2000);
  CHECK(east.lon_ranges.size() == 2);
  const auto west = bounding_box(10, -179.999, 2000);
  CHECK(west.lon_ranges.size() == 2);
  const auto pole = bounding_box(89.999, 0, 2000);
  REQUIRE(pole.lon_ranges.size() == 1);
  CHECK(pole.lon_ranges[0].first == -180.0);
  CHECK(pole.max_lat == 90.0);
}
