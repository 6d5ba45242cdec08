"""The application: its core (app factory, config, database, models) and its rooms, one subpackage a capability."""

from __future__ import annotations

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web application from the environment, or from `test_config` on top of it."""
    from billing.policy import load_policy
    from billing.views import bp as bureau_bp
    from dispatcher import administration, db
    from dispatcher.assessments import views as assessment_views
    from dispatcher.catalogue import CatalogueCache
    from dispatcher.catalogue import views as catalogue_views
    from dispatcher.centre import views as centre_views
    from dispatcher.clock import clock_from_env
    from dispatcher.config import check_settings, settings_from_env
    from dispatcher.consoles import auth, errors, security, staff_views, views
    from dispatcher.consoles.polls import Reused
    from dispatcher.hotline import switch_views
    from dispatcher.hotline import views as hotline_views
    from dispatcher.hotline import visit_call as visit_views
    from dispatcher.integrity import views as integrity_views
    from dispatcher.plans import views as plan_views
    from dispatcher.programmes import views as programme_views
    from providers import api as provider_api
    from providers import portal as provider_portal
    from telephony import init_app as init_telephony
    from telephony import views as telephony_views
    from telephony.numbers import mask_phone

    app = Flask(__name__)
    app.config.from_mapping(settings_from_env())
    if test_config:
        app.config.from_mapping(test_config)
    check_settings(app.config)
    app.extensions["vnh.clock"] = app.config.get("CLOCK") or clock_from_env()
    app.extensions["vnh.policy"] = load_policy(app.config.get("POLICY_FILE") or None)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    security.init_app(app)
    errors.init_app(app)
    db.init_app(app)
    app.extensions["vnh.catalogue"] = CatalogueCache()
    app.extensions["vnh.polls"] = Reused(app.config["POLL_REUSE_S"])
    init_telephony(app)
    auth.init_app(app)
    app.register_blueprint(hotline_views.bp)
    app.register_blueprint(switch_views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(bureau_bp)
    staff_views.init_app(app)
    app.register_blueprint(programme_views.bp)
    app.register_blueprint(provider_api.bp)
    app.register_blueprint(provider_portal.bp)
    app.register_blueprint(visit_views.bp)
    administration.init_app(app)
    app.register_blueprint(assessment_views.bp)
    app.register_blueprint(integrity_views.bp)
    app.register_blueprint(catalogue_views.bp)
    app.register_blueprint(centre_views.bp)
    app.register_blueprint(plan_views.bp)
    if app.config["TELEPHONY"] == "aliyun":
        from dispatcher.hotline import carrier_views

        app.register_blueprint(carrier_views.bp)
        auth.csrf.exempt(carrier_views.bp)
    # Twilio's webhooks carry its signature, and the provider API a bearer token, instead of a CSRF token.
    for blueprint in (hotline_views.bp, telephony_views.bp, telephony_views.simulator_bp, provider_api.bp,
                      visit_views.bp, switch_views.bp):
        auth.csrf.exempt(blueprint)
    app.jinja_env.filters["mask_phone"] = mask_phone
    return app
