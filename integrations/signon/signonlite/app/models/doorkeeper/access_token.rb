# frozen_string_literal: true

require "doorkeeper/orm/active_record/access_token"

# Signon's scopes on Doorkeeper's access token. Doorkeeper 5.5 has no
# expiration_time_sql; this is the one newer Doorkeepers use on MySQL. It is
# a function of two arguments, so Rails refuses to reverse an order by it
# (relation .last raises), here as on Signon.
class Doorkeeper::AccessToken < ::ActiveRecord::Base
  def self.expiration_time_sql
    Arel.sql("DATE_ADD(#{table_name}.created_at, INTERVAL #{table_name}.expires_in SECOND)")
  end

  scope :not_revoked, -> { where(revoked_at: nil) }
  scope :expires_after, ->(time) { where.not(expires_in: nil).where("#{sanitize_sql(expiration_time_sql)} > ?", time) }
  scope :expires_before, ->(time) { where.not(expires_in: nil).where("#{sanitize_sql(expiration_time_sql)} < ?", time) }
  scope :expired, -> { where.not(expires_in: nil).where("#{sanitize_sql(expiration_time_sql)} < ?", Time.current) }
  scope :ordered_by_expires_at, -> { order(expiration_time_sql) }
end
