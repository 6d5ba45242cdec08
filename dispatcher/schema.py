"""Every model, imported once, so the metadata is whole (for Alembic and init-db)."""

import billing.models  # noqa: F401
import dispatcher.audit  # noqa: F401
import dispatcher.enrollment_models  # noqa: F401
import dispatcher.models  # noqa: F401
import dispatcher.month_end  # noqa: F401
import dispatcher.supervision  # noqa: F401
import dispatcher.visits  # noqa: F401
import dispatcher.wellbeing  # noqa: F401
import providers.models  # noqa: F401
import providers.quality  # noqa: F401
import providers.tokens  # noqa: F401
import telephony.models  # noqa: F401
from dispatcher.db import Base

metadata = Base.metadata
