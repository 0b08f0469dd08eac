# frozen_string_literal: true

# No Gemfile and no Bundler: activate Debian's packaged gems at the versions
# signon-lite is written against, so a newer gem on the machine cannot change
# what the tests exercise.
gem "railties", "~> 6.1.7"
gem "activerecord", "~> 6.1.7"
gem "doorkeeper", "~> 5.5.0"
gem "mysql2", "~> 0.5"
