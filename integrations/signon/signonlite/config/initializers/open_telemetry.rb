# frozen_string_literal: true

# Signon runs with ENABLE_OPEN_TELEMETRY=true, and govuk_app_config then
# starts OpenTelemetry in every process but a console, `rails runner`
# included. OpenTelemetry's own logger writes plain Ruby Logger lines to
# stdout at OTEL_LOG_LEVEL (info unless set), whatever RAILS_LOG_LEVEL says:
# one line per instrumentation at boot, and an error at exit when the
# collector cannot be reached. signon-lite has no OpenTelemetry; it prints
# the lines, so that the bot meets them.
if ENV["ENABLE_OPEN_TELEMETRY"] == "true"
  otel = Logger.new($stdout, level: ENV["OTEL_LOG_LEVEL"] || Logger::INFO)
  %w[ActiveRecord ActiveSupport Mysql2 Rails Rake].each do |name|
    otel.info("Instrumentation: OpenTelemetry::Instrumentation::#{name} was successfully installed with the following options {}")
  end
  at_exit { otel.error("OpenTelemetry error: Unable to export 4 spans") }
end
