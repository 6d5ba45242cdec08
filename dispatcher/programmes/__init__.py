"""Care programmes: wellbeing calls, dormant elders, supervision cases, month-end reminders."""
