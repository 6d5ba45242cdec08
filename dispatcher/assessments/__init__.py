"""Capability assessments (能力评估, GB/T 42195-2022): each elder's history, import, expiry reminders."""
