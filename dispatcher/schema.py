"""Every model, imported once, so the metadata is whole (for Alembic and init-db)."""

import billing.duration  # noqa: F401
import billing.models  # noqa: F401
import dispatcher.administration.models  # noqa: F401
import dispatcher.assessments.models  # noqa: F401
import dispatcher.catalogue.models  # noqa: F401
import dispatcher.consoles.audit  # noqa: F401
import dispatcher.enrollment.models  # noqa: F401
import dispatcher.integrity.models  # noqa: F401
import dispatcher.lifecycle.visits  # noqa: F401
import dispatcher.models  # noqa: F401
import dispatcher.plans.models  # noqa: F401
import dispatcher.programmes.month_end  # noqa: F401
import dispatcher.programmes.supervision  # noqa: F401
import dispatcher.programmes.wellbeing  # noqa: F401
import providers.models  # noqa: F401
import providers.quality  # noqa: F401
import providers.tokens  # noqa: F401
import telephony.models  # noqa: F401
from dispatcher.db import Base

metadata = Base.metadata
