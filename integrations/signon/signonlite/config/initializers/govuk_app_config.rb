# frozen_string_literal: true

# The line govuk_app_config logs at boot when it changes the time zone: at
# the default level every `rails runner` prints it before anything else.
Rails.logger.info("govuk_app_config: time_zone changed from UTC, Rails' default, to London, GOV.UK's")
