import { PASSWORD_MIN_LENGTH } from "@turnout/contracts";
import { useMutation } from "@tanstack/react-query";
import { type SyntheticEvent, useState } from "react";
import { api } from "../../api/client.ts";
import { ApiError, describeError } from "../../api/errors.ts";
import { Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { Field } from "../../components/field.tsx";

/** Sign in, or create an account; both start the session (the refresh token goes to an HttpOnly cookie). */
export function AuthForms({ onSignedIn }: { onSignedIn: () => void }) {
  const { t } = useI18n();
  const [mode, setMode] = useState<"signIn" | "signUp">("signIn");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const submit = useMutation({
    mutationFn: () =>
      mode === "signIn" ? api.auth.login({ email, password }) : api.auth.register({ email, password, name }),
    onSuccess: onSignedIn,
  });
  const errors = submit.error instanceof ApiError ? submit.error.fieldErrors() : {};
  const refusal = describeRefusal(submit.error, t);
  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault();
    submit.mutate();
  };
  const title = mode === "signIn" ? t.signInTitle : t.signUpTitle;

  return (
    <section aria-labelledby="auth-title" className="mx-auto max-w-md">
      <h1 id="auth-title" className="text-3xl font-bold tracking-tight">
        {title}
      </h1>
      <form noValidate onSubmit={onSubmit} className="card mt-6 flex flex-col gap-4">
        {refusal !== null && <Notice tone="bad">{refusal}</Notice>}
        {mode === "signUp" && (
          <Field id="auth-name" label={t.name} error={errors.name}>
            {(props) => (
              <input
                {...props}
                autoComplete="name"
                className="input"
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                }}
              />
            )}
          </Field>
        )}
        <Field id="auth-email" label={t.email} error={errors.email}>
          {(props) => (
            <input
              {...props}
              type="email"
              autoComplete="email"
              className="input"
              value={email}
              onChange={(e) => {
                setEmail(e.target.value);
              }}
            />
          )}
        </Field>
        <Field
          id="auth-password"
          label={t.password}
          error={errors.password}
          hint={mode === "signUp" ? t.passwordHint : undefined}
        >
          {(props) => (
            <input
              {...props}
              type="password"
              autoComplete={mode === "signIn" ? "current-password" : "new-password"}
              minLength={mode === "signUp" ? PASSWORD_MIN_LENGTH : undefined}
              className="input"
              value={password}
              onChange={(e) => {
                setPassword(e.target.value);
              }}
            />
          )}
        </Field>
        <button type="submit" className="btn-primary" disabled={submit.isPending}>
          {mode === "signIn" ? t.signIn : t.signUp}
        </button>
        <button
          type="button"
          className="text-sm text-indigo-800 underline"
          onClick={() => {
            setMode(mode === "signIn" ? "signUp" : "signIn");
            submit.reset();
          }}
        >
          {mode === "signIn" ? t.needAccount : t.haveAccount}
        </button>
      </form>
    </section>
  );
}

function describeRefusal(error: Error | null, t: ReturnType<typeof useI18n>["t"]): string | null {
  if (error === null) return null;
  if (!(error instanceof ApiError)) return t.errorNetwork;
  const known: Partial<Record<ApiError["code"], string>> = {
    "validation.failed": t.fixErrors,
    "auth.invalid_credentials": t.invalidCredentials,
    "auth.email_taken": t.emailTaken,
    rate_limited: t.rateLimited,
    network: t.errorNetwork,
  };
  return known[error.code] ?? describeError(error, t);
}
