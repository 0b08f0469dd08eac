# frozen_string_literal: true

# Doorkeeper defines its models itself, so the autoloader would never load
# Signon's reopening of them: require them once, as Signon does.
enhancements = Rails.root.join("app/models/doorkeeper")
Rails.autoloaders.main.ignore(enhancements)
Dir[enhancements.join("*.rb")].sort.each { |path| require path }
