# frozen_string_literal: true

# signon-token-bot's way into Signon, which has no API for tokens. The bot
# runs this file with `rails runner -` inside the signon container, as an
# engineer would type it into a console, with the request as JSON in the
# environment variable SIGNON_BOT_REQUEST.
#
# It prints exactly one result line, "<MARKER>:<nonce> <json>", preceded by a
# newline so that boot noise without one cannot swallow it. The nonce comes
# from the request, so nothing else on stdout can pass for the result.
#
# The only token plaintext it prints is the one "issue" or "reveal" returns. Errors it
# expects are results ({"ok":false,"error":{"kind":...}}) and change nothing;
# anything else is reported as kind "internal" with long runs of token
# characters cut out of the message, and the transaction is rolled back.
#
# Written against Signon's models (ApiUser, User#authorisations,
# Doorkeeper::AccessToken's scopes, EventLog) on Rails 6.1 to 8 and MySQL or
# SQLite: no database-specific SQL, and names and emails are matched in Ruby
# or downcased so that a case-insensitive collation changes nothing.

require "digest"
require "json"
require "time"

module SignonTokenBot
  MARKER = "signon-token-bot-result"
  EMAIL = /\A[^@\s<>"'`]+@[^@\s<>"'`]+\z/
  # Every EventLog entry the bot writes names it, so that Signon's own
  # audit trail tells the bot's changes from a person's in the UI.
  USER_AGENT = "signon-token-bot"
  RUN_ID = /\A[a-z]{1,8}-[A-Za-z0-9-]{4,40}\z/
  SLACK_USER = /\A[A-Z0-9]{2,20}\z/
  OPS = %w[find_api_user tokens expiring estate issue revoke reveal].freeze
  # access_tokens:renew_expiring_internal_tokens' rule for whose tokens
  # Signon renews by itself.
  INTERNAL = /@(alphagov\.co\.uk|publishing\.service\.gov\.uk)$/

  # An expected refusal: bad input, an unknown user, application or token.
  class Refusal < StandardError
    attr_reader :kind

    def initialize(kind, message)
      super(message)
      @kind = kind
    end
  end

  module_function

  def main(raw)
    request = parse(raw)
  rescue Refusal => e
    # Without a nonce there is no result line the bot would accept.
    warn("signon-token-bot: #{e.message}")
    exit 2
  else
    run(request)
  end

  def run(request)
    nonce = request.fetch("nonce")
    result = dispatch(request)
    emit(nonce, { ok: true, now: iso(Time.current), result: result })
  rescue Refusal => e
    emit(nonce, { ok: false, now: iso(Time.current), error: { kind: e.kind, message: e.message } })
  rescue StandardError => e
    message = "#{e.class}: #{scrub(e.message)}"
    emit(nonce, { ok: false, now: iso(Time.current), error: { kind: "internal", message: message } })
    warn(message)
    warn(e.backtrace.first(40).map { |line| "  #{line}" }.join("\n")) if e.backtrace
    exit 1
  end

  def parse(raw)
    refuse("bad_input", "SIGNON_BOT_REQUEST is not set") if raw.nil? || raw.empty?
    request = begin
      JSON.parse(raw)
    rescue JSON::ParserError
      refuse("bad_input", "SIGNON_BOT_REQUEST is not JSON")
    end
    refuse("bad_input", "the request is not a JSON object") unless request.is_a?(Hash)
    refuse("bad_input", "the request has no valid nonce") unless request["nonce"].is_a?(String) && request["nonce"].match?(/\A[0-9a-f]{16,64}\z/)
    request
  end

  def dispatch(request)
    op = request["op"]
    refuse("bad_input", "unknown operation #{op.inspect}") unless OPS.include?(op)

    send("op_#{op}", request)
  end

  def op_find_api_user(request)
    { user: user_json(find_api_user!(email!(request, "email"))) }
  end

  # Lists a pair's tokens with the one kubernetes:sync_token_secrets would
  # write: that is what "current" means to every consumer in the cluster.
  # A retired application is found here (its tokens still exist) but the
  # sync skips it, as it skips a suspended user.
  def op_tokens(request)
    user = find_api_user!(email!(request, "email"))
    application = find_application!(application!(request), retired: true)
    tokens = Doorkeeper::AccessToken.where(resource_owner_id: user.id, application_id: application.id).order(created_at: :desc, id: :desc).to_a
    synced = !user.suspended? && !application.retired?
    {
      user: user_json(user),
      application: application_json(application),
      tokens: tokens.map { |t| token_json(t) },
      last_synced_at: iso(last_synced_at(user, application)),
      synced: synced,
      synced_token_id: (sync_choice(user, application)&.id if synced),
    }
  end

  # kubernetes:sync_token_secrets' choice: api_user.authorisations
  # .not_revoked.ordered_by_expires_at, last. Expired tokens are not left
  # out, and a token without expires_in orders first (NULL), so it is the
  # choice only when no token has an expiry. The id breaks ties as InnoDB's
  # primary key order does.
  def sync_choice(user, application)
    Doorkeeper::AccessToken.where(resource_owner_id: user.id, application_id: application.id)
                           .not_revoked.ordered_by_expires_at.order(:id).to_a.last
  end

  # The alert's rule: for each API user and application, the unrevoked token
  # that expires last, if it expires within the window. Only pairs with some
  # token expiring in the window are looked at; "expires last" is the sync
  # job's order, taken from a loaded array because Rails cannot reverse an
  # order by a two-argument SQL function (relation.last raises).
  def op_expiring(request)
    within = number!(request, "within", 1, 20 * 366 * 86_400)
    limit = Time.current + within
    pairs = Doorkeeper::AccessToken.not_revoked.expires_before(limit)
                                   .where(resource_owner_id: ApiUser.unscope(:order).select(:id))
                                   .distinct.pluck(:resource_owner_id, :application_id)
    users = ApiUser.where(id: pairs.map(&:first).uniq).index_by(&:id)
    rows = pairs.filter_map do |user_id, application_id|
      user = users[user_id]
      newest = user&.authorisations&.not_revoked&.where(application_id: application_id)&.ordered_by_expires_at&.to_a&.last
      next if newest.nil? || newest.expires_at.nil? || newest.expires_at >= limit

      application = newest.application
      {
        user: user_json(user),
        application: application_json(application),
        token: token_json(newest),
        last_synced_at: iso(last_synced_at(user, application)),
      }
    end
    { rows: rows.sort_by { |r| [r[:token][:expires_at], r[:user][:email], r[:application][:slug]] } }
  end

  # The daily sweep's report, in a fixed number of queries whatever the
  # estate's size: every API user's tokens are loaded once (revoked ones
  # too: a revoked token that expires later stops Signon's renewal) and
  # grouped in Ruby. A pair is reported when its synced token (the sync
  # job's choice) expires within the window, or when it has superseded
  # tokens: unrevoked, unexpired, made before the synced one.
  def op_estate(request)
    within = number!(request, "within", 1, 20 * 366 * 86_400)
    now = Time.current
    limit = now + within
    users = ApiUser.unscope(:order).to_a.index_by(&:id)
    tokens = Doorkeeper::AccessToken.where(resource_owner_id: users.keys).to_a
    applications = Doorkeeper::Application.unscoped.where(id: tokens.map(&:application_id).uniq).to_a.index_by(&:id)
    synced_at = UserApplicationPermission.where(user_id: users.keys).group(:user_id, :application_id).maximum(:last_synced_at)
    pairs = tokens.group_by { |t| [t.resource_owner_id, t.application_id] }.filter_map do |(user_id, application_id), all|
      estate_pair(users[user_id], applications[application_id], all, now, limit, synced_at[[user_id, application_id]])
    end
    { now: iso(now), pairs: pairs.sort_by { |p| [p[:token][:expires_at] || "~", p[:user][:email], p[:application][:slug]] } }
  end

  def estate_pair(user, application, all, now, limit, synced_at)
    return nil if user.nil? || application.nil?

    live = all.reject { |t| t.revoked_at.present? }
    # The sync job's order: NULL expiry first, then expiry, then id.
    choice = live.max_by { |t| [t.expires_at ? 1 : 0, t.expires_at || Time.at(0), t.id] }
    superseded = live.select do |t|
      t != choice && (t.expires_at.nil? || t.expires_at > now) &&
        (t.created_at < choice.created_at || (t.created_at == choice.created_at && t.id < choice.id))
    end
    expiring = choice&.expires_at && choice.expires_at < limit
    return nil unless expiring || superseded.any?

    blocker = choice&.expires_at && all.find { |t| t.revoked_at.present? && t.expires_at && t.expires_at > choice.expires_at }
    {
      user: user_json(user),
      application: application_json(application),
      internal: user.email.to_s.match?(INTERNAL),
      synced: !user.suspended? && !application.retired?,
      token: token_json(choice),
      superseded: superseded.sort_by { |t| [t.created_at, t.id] }.map { |t| token_json(t) },
      renewal_blocker: blocker&.id,
      last_synced_at: iso(synced_at),
    }
  end

  # Makes a token as Signon's "Add application token" does, unless the run
  # has one already: first by its run id, which the EventLog entry of its
  # issue carries (so whatever the bot's own store lost, Signon remembers),
  # then, for a token someone else made meanwhile (the nightly auto-renew),
  # one made at or after the run's intent less the allowed clock skew. It
  # refuses when the new token would not be the one the sync job writes.
  def op_issue(request)
    user = find_api_user!(email!(request, "email"))
    application = find_application!(application!(request))
    refuse("suspended", "API user #{user.email} is suspended") if user.suspended?
    audit = audit!(request)
    initiator, service = find_initiator!(request)
    skew = number!(request, "skew", 0, 86_400)
    since = time!(request, "intent_at") - skew
    check_clock!(request, skew)

    ApiUser.transaction do
      user.lock!
      existing = issued_by_run(user, application, audit[:run_id]) ||
                 user.authorisations.not_revoked.where(application_id: application.id)
                     .where("oauth_access_tokens.created_at >= ?", since)
                     .order(created_at: :desc, id: :desc).first
      if existing
        issued_json(user, application, existing, true, initiator, service)
      else
        outlived!(user, application)
        authorisation = user.authorisations.build(expires_in: ApiUser::DEFAULT_TOKEN_LIFE, application_id: application.id)
        authorisation.save!
        user.grant_application_signin_permission(authorisation.application)
        EventLog.record_event(user, EventLog::ACCESS_TOKEN_GENERATED, initiator: initiator, application: authorisation.application,
                                                                      **event_options(audit, "token #{authorisation.id}"))
        issued_json(user, application, authorisation, false, initiator, service)
      end
    end
  end

  # The unrevoked token this run's issue made, read back from the
  # trailing message of its ACCESS_TOKEN_GENERATED entry.
  def issued_by_run(user, application, run_id)
    EventLog.where(event_id: EventLog::ACCESS_TOKEN_GENERATED.id, uid: user.uid, application_id: application.id)
            .where(user_agent_string: USER_AGENT).order(id: :desc).each do |event|
      match = event.trailing_message.to_s.match(/\Arun (\S+) .*\btoken (\d+)\z/)
      next unless match && match[1] == run_id

      token = Doorkeeper::AccessToken.not_revoked.find_by(id: match[2].to_i, resource_owner_id: user.id, application_id: application.id)
      return token if token
    end
    nil
  end

  # The sync job writes the unrevoked token that expires last, so a new
  # two-year token behind a longer-lived one (a 10-year token from before
  # 10 January 2019, or SSOPushCredential's) would never reach the cluster.
  def outlived!(user, application)
    fresh = Time.current + ApiUser::DEFAULT_TOKEN_LIFE
    longer = sync_choice(user, application)
    return if longer.nil? || longer.expires_at.nil? || longer.expires_at <= fresh

    refuse("outlived", "token #{longer.id} (fingerprint #{fingerprint(longer)}) expires #{iso(longer.expires_at)}, " \
                       "after a new token would (#{iso(fresh)}): the sync job would keep writing it; nothing was written")
  end

  def op_revoke(request)
    user = find_api_user!(email!(request, "email"))
    application = find_application!(application!(request))
    refuse("suspended", "API user #{user.email} is suspended") if user.suspended?
    audit = audit!(request)
    id = number!(request, "token_id", 1, 2**62)
    refuse("bad_input", "token id #{id} is not a whole number") unless id.is_a?(Integer)

    ApiUser.transaction do
      user.lock!
      token = Doorkeeper::AccessToken.find_by(id: id)
      refuse("unknown_token", "there is no token #{id}") if token.nil?
      unless token.resource_owner_id == user.id && token.application_id == application.id
        refuse("wrong_owner", "token #{id} is not a token of #{user.email} for #{application.name}")
      end
      refuse("already_revoked", "token #{id} was revoked at #{iso(token.revoked_at)}") if token.revoked_at.present?
      initiator, service = find_initiator!(request)
      check_clock!(request, number!(request, "skew", 0, 86_400))

      token.revoke
      EventLog.record_event(user, EventLog::ACCESS_TOKEN_REVOKED, initiator: initiator, application: application,
                                                                **event_options(audit, "token #{token.id}"))
      { token: token_json(token.reload), initiator: { email: initiator.email, service: service } }
    end
  end

  # Reads one token's plaintext by id, for the requester of a hand-off who
  # asks to see it. It writes nothing: Signon's own UI records no event when
  # a token is shown, and the bot announces and audits each reveal itself.
  # Only an unrevoked, unexpired token of this user and application is
  # shown; a token revoked outside the bot stays revoked.
  def op_reveal(request)
    user = find_api_user!(email!(request, "email"))
    application = find_application!(application!(request))
    id = number!(request, "token_id", 1, 2**62)
    refuse("bad_input", "token id #{id} is not a whole number") unless id.is_a?(Integer)

    token = Doorkeeper::AccessToken.find_by(id: id)
    refuse("unknown_token", "there is no token #{id}") if token.nil?
    unless token.resource_owner_id == user.id && token.application_id == application.id
      refuse("wrong_owner", "token #{id} is not a token of #{user.email} for #{application.name}")
    end
    refuse("already_revoked", "token #{id} was revoked at #{iso(token.revoked_at)}") if token.revoked_at.present?
    refuse("already_revoked", "token #{id} expired at #{iso(token.expires_at)}") if token.expires_at&.past?

    { token: token_json(token), secret: token.token }
  end

  def find_api_user!(email)
    user = ApiUser.find_by(email: email)
    return user if user

    if User.find_by(email: email)
      refuse("unknown_api_user", "#{email} is a Signon user but not an API user")
    end
    refuse("unknown_api_user", "Signon has no API user with email #{email}")
  end

  # By Signon name ("Publishing API") or its parameterised form
  # ("publishing-api"), compared in Ruby: exact, whatever the collation.
  # Retired applications are hidden by Signon's default scope; only a
  # read asks for them.
  def find_application!(name, retired: false)
    applications = (retired ? Doorkeeper::Application.unscoped : Doorkeeper::Application.all).to_a
    exact = applications.select { |a| a.name == name }
    return exact.first if exact.size == 1

    by_slug = applications.select { |a| a.name.to_s.parameterize == name }
    return by_slug.first if by_slug.size == 1

    if by_slug.size > 1
      refuse("bad_input", "#{name} could be any of #{by_slug.map(&:name).sort.join(', ')}: use the full name")
    end
    refuse("unknown_application", "Signon has no application named #{name}")
  end

  # Signon's event log needs a Signon user as initiator: the requester's own
  # account when Signon would let them make the change themselves (a
  # superadmin, neither suspended nor locked: only superadmins may create or
  # revoke API tokens in the UI), else the bot's service identity.
  def find_initiator!(request)
    requester = request["initiator"].to_s.downcase
    unless requester.empty?
      refuse("bad_input", "initiator #{requester.inspect} is not an email address") unless requester.match?(EMAIL)
      person = User.find_by(email: requester)
      # The raw attribute: Signon's User#role is a Roles class.
      return [person, false] if person && !person.api_user? && !person.suspended? && !person.access_locked? && person[:role] == "superadmin"
    end
    service = email!(request, "service_identity")
    identity = User.find_by(email: service)
    if identity.nil? || identity.suspended?
      refuse("no_initiator", "the bot's service identity #{service} has no active Signon account")
    end
    [identity, true]
  end

  # The request carries the bot's clock: when it sent the request and when
  # it stops waiting. Signon's clock must agree within the allowed skew, or
  # comparing created_at with the intent is unsafe; and a write after the
  # bot gave up would make a token nobody receives.
  def check_clock!(request, skew)
    now = Time.current
    sent_at = time!(request, "sent_at")
    deadline = time!(request, "deadline")
    if now < sent_at - skew
      refuse("clock_skew", "Signon's clock is #{(sent_at - now).round(1)}s behind the bot's, more than the #{skew}s allowed")
    end
    return unless now > deadline + skew

    refuse("too_late", "Signon started the change #{(now - deadline).round(1)}s after the bot's deadline (slow start or clock #{(now - deadline).round}s ahead); nothing was written")
  end

  def last_synced_at(user, application)
    UserApplicationPermission.where(user_id: user.id, application_id: application.id).maximum(:last_synced_at)
  end

  def issued_json(user, application, token, existing, initiator, service)
    {
      user: user_json(user),
      application: application_json(application),
      token: token_json(token),
      secret: token.token,
      existing: existing,
      initiator: { email: initiator.email, service: service },
    }
  end

  def user_json(user)
    { id: user.id, name: user.name, email: user.email, suspended: user.suspended_at.present? }
  end

  def application_json(application)
    { id: application.id, name: application.name, slug: application.name.to_s.parameterize, retired: application.retired? }
  end

  # expires_at is null for a token without expires_in: it never expires.
  def token_json(token)
    {
      id: token.id,
      created_at: iso(token.created_at),
      expires_at: iso(token.expires_at),
      revoked_at: iso(token.revoked_at),
      fingerprint: fingerprint(token),
    }
  end

  # The first 16 hex digits of the token's SHA-256: enough to tell tokens
  # apart, and no more of a digest than the bot compares.
  def fingerprint(token)
    Digest::SHA256.hexdigest(token.token)[0, 16]
  end

  # Who and what a change is for: the run and the Slack user who asked,
  # for every EventLog entry the bot writes.
  def audit!(request)
    run_id = request["run_id"]
    refuse("bad_input", "run_id #{run_id.to_s[0, 40].inspect} is not a run id") unless run_id.is_a?(String) && run_id.match?(RUN_ID)
    requester = request["requester"].to_s
    refuse("bad_input", "requester #{requester[0, 40].inspect} is not a Slack user id") unless requester.empty? || requester.match?(SLACK_USER)
    { run_id: run_id, requester: requester.empty? ? "unknown" : requester }
  end

  def event_options(audit, what)
    { user_agent_string: USER_AGENT, trailing_message: "run #{audit[:run_id]} for Slack user #{audit[:requester]}: #{what}" }
  end

  def email!(request, field)
    value = request[field]
    unless value.is_a?(String) && value.length <= 254 && value.match?(EMAIL)
      refuse("bad_input", "#{field} #{value.to_s[0, 80].inspect} is not an email address")
    end
    value.downcase
  end

  def application!(request)
    value = request["application"]
    unless value.is_a?(String) && !value.strip.empty? && value.length <= 255 && !value.match?(/[[:cntrl:]]/)
      refuse("bad_input", "application #{value.to_s[0, 80].inspect} is not an application name")
    end
    value
  end

  def number!(request, field, min, max)
    value = request[field]
    refuse("bad_input", "#{field} must be a number from #{min} to #{max}") unless value.is_a?(Numeric) && value >= min && value <= max
    value
  end

  def time!(request, field)
    Time.iso8601(request[field].to_s)
  rescue ArgumentError
    refuse("bad_input", "#{field} #{request[field].to_s[0, 40].inspect} is not an ISO 8601 time")
  end

  def iso(time)
    time&.utc&.iso8601(6)
  end

  def scrub(message)
    message.to_s.gsub(/[A-Za-z0-9_-]{32,}/, "[redacted]")
  end

  def refuse(kind, message)
    raise Refusal.new(kind, message)
  end

  def emit(nonce, payload)
    $stdout.write("\n#{MARKER}:#{nonce} #{JSON.generate(payload)}\n")
    $stdout.flush
  end
end

SignonTokenBot.main(ENV.fetch("SIGNON_BOT_REQUEST", nil))
