# frozen_string_literal: true

require_relative "boot"

require "logger"
require "rails"
require "active_record/railtie"
require "doorkeeper"

module SignonLite
  # Just enough of Signon for the bot's Ruby script: its models and the
  # tables they use, on SQLite.
  class Application < Rails::Application
    config.load_defaults 6.1
    config.root = File.expand_path("..", __dir__)
    config.eager_load = false
    # Signon sets this too, and EventLog relies on it (no user agent).
    config.active_record.belongs_to_required_by_default = false
    # Keep stdout for the script's own output and Rails' boot quiet.
    config.logger = Logger.new(File::NULL)
    config.log_level = :warn
    config.secret_key_base = "signon-lite-is-a-test-double"
  end
end
