"""Repository and launch (Binder, Colab) buttons only when ``_config.yml`` names the
book's repository (``repository.url``): without one they would point nowhere, and the
theme cannot build launch buttons without it."""


def buttons_follow_the_repository(app, config):
    options = config.html_theme_options
    if options.get("repository_url"):
        options["use_repository_button"] = True
    else:
        options.pop("launch_buttons", None)
        options["use_repository_button"] = False


def setup(app):
    app.connect("config-inited", buttons_follow_the_repository)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
