# frozen_string_literal: true

require "doorkeeper/orm/active_record/access_token"

# Signon's scopes on Doorkeeper's access token. Doorkeeper 5.5 has no
# expiration_time_sql; SQLite's julianday does the date arithmetic. Like
# MySQL's DATE_ADD(created_at, INTERVAL expires_in SECOND) it is a function
# of two arguments, so Rails refuses to reverse an order by it (relation
# .last raises) here as it does on Signon.
class Doorkeeper::AccessToken < ::ActiveRecord::Base
  def self.expiration_time_sql
    Arel.sql("julianday(#{table_name}.created_at, '+' || #{table_name}.expires_in || ' seconds')")
  end

  scope :not_revoked, -> { where(revoked_at: nil) }
  scope :expires_after, ->(time) { where.not(expires_in: nil).where("#{expiration_time_sql} > julianday(?)", time.utc) }
  scope :expires_before, ->(time) { where.not(expires_in: nil).where("#{expiration_time_sql} < julianday(?)", time.utc) }
  scope :expired, -> { where.not(expires_in: nil).where("#{expiration_time_sql} < julianday(?)", Time.current.utc) }
  scope :ordered_by_expires_at, -> { order(expiration_time_sql) }
end
