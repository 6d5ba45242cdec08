"""Care plans (服务计划): standing services whose occurrences become ordinary orders."""
