# frozen_string_literal: true

# SQLite's default deferred transaction takes the write lock only at the
# first write, so two runners that both read and then write fail with
# BusyException instead of waiting. MySQL (Signon's database) makes the
# second writer wait; immediate transactions make SQLite do the same.
module SignonLite
  module ImmediateTransactions
    def begin_db_transaction
      log("begin immediate transaction", "TRANSACTION") { @connection.transaction(:immediate) }
    end
  end
end

ActiveSupport.on_load(:active_record) do
  require "active_record/connection_adapters/sqlite3_adapter"
  ActiveRecord::ConnectionAdapters::SQLite3Adapter.prepend(SignonLite::ImmediateTransactions)
end
