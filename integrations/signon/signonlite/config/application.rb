# frozen_string_literal: true

require_relative "boot"

require "json"
require "logger"
require "time"
require "rails"
require "active_record/railtie"
require "doorkeeper"

module SignonLite
  # Just enough of Signon for the bot's Ruby script: its models and the
  # tables they use, on MySQL (MariaDB here), configured as Signon runs in
  # production so that the script meets the same environment.
  class Application < Rails::Application
    config.load_defaults 6.1
    config.root = File.expand_path("..", __dir__)
    # As Signon in production: every model is loaded at boot.
    config.eager_load = true
    # Signon sets this too, and EventLog relies on it (no user agent).
    config.active_record.belongs_to_required_by_default = false
    # govuk_app_config moves every GOV.UK app from Rails' UTC to London.
    # The database stays UTC (ActiveRecord's default_timezone).
    config.time_zone = "London"
    config.secret_key_base = "signon-lite-is-a-test-double"

    # Signon logs to stdout (RAILS_LOG_TO_STDOUT) at RAILS_LOG_LEVEL, info
    # unless set, in govuk_app_config's JSON lines
    # (GOVUK_RAILS_JSON_LOGGING). So the script's result line shares stdout
    # with log lines, and at debug ActiveRecord logs every statement with
    # its values, a new token's included.
    config.log_level = ENV.fetch("RAILS_LOG_LEVEL", "info").to_sym
    $stdout.sync = true
    config.logger = ActiveSupport::Logger.new($stdout)
    if ENV["GOVUK_RAILS_JSON_LOGGING"]
      config.logger.formatter = proc do |severity, time, _progname, message|
        "#{JSON.generate({ '@timestamp': time.utc.iso8601(3), message: message, level: severity, tags: %w[rails] })}\n"
      end
    end
  end
end
