"""The centre's own numbers (运营统计): calls, answer times, bookings, visits and reviews, from the rows."""
