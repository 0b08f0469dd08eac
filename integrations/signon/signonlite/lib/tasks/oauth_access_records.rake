# frozen_string_literal: true

# Signon's weekly clean-up (Sundays 12:22): expired tokens are deleted,
# revoked or not, and each owner gets one ACCESS_TOKENS_DELETED entry. As
# ExpiredOauthAccessRecordsDeleter does, less the access grants, which
# signon-lite has no table for.
namespace :oauth_access_grants do
  desc "Delete expired OAuth access tokens"
  task delete_expired: :environment do
    total = 0
    Doorkeeper::AccessToken.expired.in_batches do |relation|
      records_by_user_id = Doorkeeper::Application.unscoped { relation.includes(:application).group_by(&:resource_owner_id) }
      User.where(id: records_by_user_id.keys).order(:id).each do |user|
        application_names = records_by_user_id[user.id].map { |record| record.application.name }
        EventLog.record_event(user, EventLog::ACCESS_TOKENS_DELETED, trailing_message: "for #{application_names.to_sentence}")
      end
      total += relation.delete_all
    end
    puts "Deleted #{total} expired Doorkeeper::AccessToken records"
  end
end
