-- Channels that warn before they break: when a channel's connection will end (its token
-- cannot be refreshed past then) within `CHANNEL_EXPIRY_WARNING_DAYS`, its owner is told
-- once per token: `reconnect_by` is the end they were told about, cleared when new tokens
-- are written (a reconnect, a refresh), so the next token is warned about in its turn.
alter table platform_accounts
    add column reconnect_by timestamptz,
    add column expiry_warned_at timestamptz;

create function platform_account_tokens_changed() returns trigger
    language plpgsql
as $$
begin
    new.reconnect_by := null;
    new.expiry_warned_at := null;
    return new;
end
$$;
create trigger platform_accounts_tokens_changed before update on platform_accounts
    for each row
    when ((old.access_token, old.refresh_token, old.token_expires_at, old.refresh_expires_at)
          is distinct from
          (new.access_token, new.refresh_token, new.token_expires_at, new.refresh_expires_at))
    execute function platform_account_tokens_changed();
