"""The staff consoles: sign-in, the operator's console, the supervisor's pages, the audit of record views."""
