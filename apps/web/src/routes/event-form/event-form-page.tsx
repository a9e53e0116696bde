import { EVENT_CATEGORY_SLUGS, type Event } from "@turnout/contracts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { getRouteApi, Link, useNavigate } from "@tanstack/react-router";
import { type SyntheticEvent, useState } from "react";
import { api } from "../../api/client.ts";
import { ApiError, describeError, isApiError } from "../../api/errors.ts";
import { useIntentKey } from "../../api/intent-key.ts";
import { refreshPagedLists } from "../../api/paged-list.ts";
import { eventQuery, keys } from "../../api/queries.ts";
import { useSession } from "../../api/use-session.ts";
import { ErrorState, Forbidden, Loading, Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { Field } from "../../components/field.tsx";
import { SignedInOnly } from "../../components/signed-in-only.tsx";
import { bodyFromForm, emptyForm, type FormState, formFromEvent } from "./form-state.ts";

const editRoute = getRouteApi("/events/$id/edit");

/** /events/new: a new draft; once saved, the edit page takes over (publish, cancel). */
export function CreateEventPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [form, setForm] = useState<FormState>(emptyForm);
  const intentKey = useIntentKey();
  const save = useMutation({
    mutationFn: () => api.events.create(bodyFromForm(form), intentKey.keyFor(JSON.stringify(form))),
    onError: (error) => {
      intentKey.settle(error);
    },
    onSuccess: (event) => {
      intentKey.settle();
      client.setQueryData(keys.event(event.id), event);
      void refreshPagedLists(client, { queryKey: keys.myEvents });
      void navigate({ to: "/events/$id/edit", params: { id: event.id }, search: { saved: true } });
    },
  });
  return (
    <SignedInOnly next="/events/new">
      <h1 className="text-3xl font-bold tracking-tight">{t.createTitle}</h1>
      <EventForm
        form={form}
        setForm={setForm}
        error={save.error}
        isSaving={save.isPending}
        submitLabel={t.saveDraft}
        onSubmit={() => {
          save.mutate();
        }}
      />
    </SignedInOnly>
  );
}

/** /events/:id/edit: change fields against the version loaded (If-Match), publish a draft, cancel. */
export function EditEventPage() {
  const { id } = editRoute.useParams();
  return (
    <SignedInOnly next={`/events/${id}/edit`}>
      <EditEvent id={id} />
    </SignedInOnly>
  );
}

function EditEvent({ id }: { id: string }) {
  const { t } = useI18n();
  const session = useSession();
  const event = useQuery(eventQuery(id));
  if (event.isPending) return <Loading />;
  if (event.isError) return <ErrorState error={event.error} onRetry={() => void event.refetch()} />;
  if (session.user?.id !== event.data.organizer.id && session.user?.role === "user")
    return <Forbidden>{t.notYours}</Forbidden>;
  return <EditForm key={event.data.id} initial={event.data} />;
}

function EditForm({ initial }: { initial: Event }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const search = editRoute.useSearch();
  const [form, setForm] = useState(() => formFromEvent(initial));
  const [base, setBase] = useState(initial);
  const [notice, setNotice] = useState<string | null>(search.saved === true ? t.saved : null);

  const apply = (event: Event, message: string) => {
    setBase(event);
    client.setQueryData(keys.event(event.id), event);
    void refreshPagedLists(client, { queryKey: keys.myEvents });
    setNotice(message);
  };
  // One key per intent (ADR 0021): a retry after a lost answer repeats it instead of doing it twice, so a
  // saved edit is not then refused as stale by its own If-Match.
  const intentKey = useIntentKey();
  const settle = (_data: unknown, error: Error | null) => {
    intentKey.settle(error ?? undefined);
  };
  const save = useMutation({
    mutationFn: () => {
      const body = bodyFromForm(form);
      const key = intentKey.keyFor(`save ${base.version} ${JSON.stringify(body)}`);
      return api.events.update(base.id, body, base.version, key);
    },
    onMutate: () => {
      setNotice(null);
    },
    onSuccess: (event) => {
      apply(event, t.saved);
    },
    onSettled: settle,
  });
  const publish = useMutation({
    mutationFn: () => api.events.publish(base.id, intentKey.keyFor(`publish ${base.version}`)),
    onSuccess: (event) => {
      apply(event, t.published);
    },
    onSettled: settle,
  });
  const [reason, setReason] = useState("");
  const cancel = useMutation({
    mutationFn: () => api.events.cancel(base.id, { reason }, intentKey.keyFor(`cancel ${reason}`)),
    onSuccess: (event) => {
      apply(event, t.cancelled);
    },
    onSettled: settle,
  });
  const reload = async () => {
    try {
      const fresh = await client.query({ ...eventQuery(base.id), staleTime: 0 });
      setBase(fresh);
      setForm(formFromEvent(fresh));
      save.reset();
      setNotice(null);
    } catch {
      // Still unreachable: the stale notice and its Reload button stay for another try.
    }
  };

  const isStale = isApiError(save.error, "resource.version_mismatch");
  return (
    <>
      <div className="flex flex-wrap items-baseline justify-between gap-3">
        <h1 className="text-3xl font-bold tracking-tight">{t.editTitle}</h1>
        <Link to="/events/$id" params={{ id: base.id }} className="text-indigo-800 underline">
          {base.title}
        </Link>
      </div>
      <div className="mt-4 flex flex-col gap-3">
        {notice !== null && <Notice tone="ok">{notice}</Notice>}
        {isStale && (
          <Notice tone="bad">
            <p>{t.staleEdit}</p>
            <button type="button" className="btn-secondary mt-3" onClick={() => void reload()}>
              {t.reload}
            </button>
          </Notice>
        )}
        {base.status === "cancelled" && <Notice tone="info">{t.alreadyCancelled}</Notice>}
      </div>
      <EventForm
        form={form}
        setForm={setForm}
        error={isStale ? null : save.error}
        confirmed={base.stats.confirmed}
        isSaving={save.isPending}
        submitLabel={t.saveChanges}
        onSubmit={() => {
          save.mutate();
        }}
      >
        {base.status === "draft" && (
          <button
            type="button"
            className="btn-secondary"
            disabled={publish.isPending}
            onClick={() => {
              publish.mutate();
            }}
          >
            {t.publish}
          </button>
        )}
      </EventForm>
      {publish.isError && (
        <div className="mt-3">
          <Notice tone="bad">
            {isApiError(publish.error, "event.in_past") ? t.inPast : describeError(publish.error, t)}
          </Notice>
        </div>
      )}
      {base.status === "published" && (
        <section className="card mt-8 flex flex-col gap-3" aria-labelledby="cancel-title">
          <h2 id="cancel-title" className="text-lg font-semibold">
            {t.cancelEvent}
          </h2>
          <Field
            id="cancel-reason"
            label={t.cancelReason}
            error={cancel.error instanceof ApiError ? cancel.error.fieldErrors().reason : undefined}
          >
            {(props) => (
              <input
                {...props}
                className="input"
                value={reason}
                onChange={(e) => {
                  setReason(e.target.value);
                }}
              />
            )}
          </Field>
          <button
            type="button"
            className="btn-danger self-start"
            disabled={cancel.isPending}
            onClick={() => {
              cancel.mutate();
            }}
          >
            {t.confirmCancel}
          </button>
        </section>
      )}
    </>
  );
}

function EventForm({
  form,
  setForm,
  error,
  confirmed,
  isSaving,
  submitLabel,
  onSubmit,
  children,
}: {
  form: FormState;
  setForm: (update: (old: FormState) => FormState) => void;
  error: Error | null;
  confirmed?: number;
  isSaving: boolean;
  submitLabel: string;
  onSubmit: () => void;
  children?: React.ReactNode;
}) {
  const { t, formatNumber } = useI18n();
  const fieldErrors = error instanceof ApiError ? error.fieldErrors() : {};
  if (isApiError(error, "event.capacity_below_confirmed"))
    fieldErrors.capacity = t.capacityBelowConfirmed(
      formatNumber(confirmedIn(error.details) ?? confirmed ?? 0),
    );
  const set = (name: keyof FormState) => (event: { target: { value: string } }) => {
    const value = event.target.value;
    setForm((old) => ({ ...old, [name]: value }));
  };
  const text = (name: keyof FormState, label: string, type = "text", hint?: string, path: string = name) => (
    <Field id={`field-${name}`} label={label} error={fieldErrors[path]} hint={hint}>
      {(props) => <input {...props} type={type} className="input" value={form[name]} onChange={set(name)} />}
    </Field>
  );
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    onSubmit();
  };
  const otherError =
    error !== null && Object.keys(fieldErrors).length === 0
      ? describeError(error, t)
      : error !== null
        ? t.fixErrors
        : null;

  return (
    <div className="mt-6 grid gap-8 lg:grid-cols-[1fr_20rem]">
      <form noValidate onSubmit={submit} className="flex flex-col gap-4">
        {otherError !== null && <Notice tone="bad">{fieldErrors[""] ?? otherError}</Notice>}
        {text("title", t.fieldTitle)}
        <Field id="field-description" label={t.fieldDescription} error={fieldErrors.description}>
          {(props) => (
            <textarea
              {...props}
              rows={5}
              className="input"
              value={form.description}
              onChange={set("description")}
            />
          )}
        </Field>
        <div className="grid gap-4 sm:grid-cols-2">
          {text("startsAt", t.fieldStartsAt, "datetime-local")}
          {text("endsAt", t.fieldEndsAt, "datetime-local")}
        </div>
        <Field id="field-timezone" label={t.fieldTimezone} error={fieldErrors.timezone}>
          {(props) => (
            <select {...props} className="input" value={form.timezone} onChange={set("timezone")}>
              {timeZones(form.timezone).map((zone) => (
                <option key={zone} value={zone}>
                  {zone}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="grid gap-4 sm:grid-cols-2">
          {text("venueName", t.fieldVenueName, "text", undefined, "venue.name")}
          {text("venueAddress", t.fieldVenueAddress, "text", undefined, "venue.address")}
        </div>
        {text("onlineUrl", t.fieldOnlineUrl, "url")}
        <div className="grid gap-4 sm:grid-cols-2">
          <Field id="field-category" label={t.fieldCategory} error={fieldErrors.category}>
            {(props) => (
              <select {...props} className="input" value={form.category} onChange={set("category")}>
                {EVENT_CATEGORY_SLUGS.map((slug) => (
                  <option key={slug} value={slug}>
                    {t.categoryNames[slug]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="field-visibility" label={t.fieldVisibility} error={fieldErrors.visibility}>
            {(props) => (
              <select {...props} className="input" value={form.visibility} onChange={set("visibility")}>
                <option value="public">{t.visibilityPublic}</option>
                <option value="unlisted">{t.visibilityUnlisted}</option>
              </select>
            )}
          </Field>
        </div>
        {text("tags", t.fieldTags, "text", undefined, firstTagPath(fieldErrors))}
        <div className="grid gap-4 sm:grid-cols-2">
          {text("capacity", t.fieldCapacity, "number")}
          {text("waitlistLimit", t.fieldWaitlistLimit, "number")}
        </div>
        {text("coverPhotoUrl", t.fieldCoverPhotoUrl, "url")}
        <div className="flex flex-wrap gap-3">
          <button type="submit" className="btn-primary" disabled={isSaving}>
            {isSaving ? t.saving : submitLabel}
          </button>
          {children}
        </div>
      </form>
      <Preview form={form} />
    </div>
  );
}

/** The confirmed count the 409 event.capacity_below_confirmed names (newer than the form's copy of the event). */
function confirmedIn(details: unknown): number | undefined {
  const value =
    typeof details === "object" && details !== null
      ? (details as { confirmed?: unknown }).confirmed
      : undefined;
  return typeof value === "number" ? value : undefined;
}

function firstTagPath(errors: Record<string, string>): string {
  return Object.keys(errors).find((path) => path === "tags" || path.startsWith("tags.")) ?? "tags";
}

function timeZones(current: string): string[] {
  const zones = Intl.supportedValuesOf("timeZone");
  return zones.includes(current) ? zones : [current, ...zones];
}

/** The draft as guests will see it in the feed, updated as one types. */
function Preview({ form }: { form: FormState }) {
  const { t, formatDateTime } = useI18n();
  const starts = bodyFromForm(form).startsAt;
  return (
    <aside aria-labelledby="preview-title" className="lg:self-start">
      <h2 id="preview-title" className="mb-2 text-sm font-semibold uppercase tracking-wide text-gray-700">
        {t.preview}
      </h2>
      <div className="card flex flex-col gap-2">
        <p className="text-xs font-semibold uppercase tracking-wide text-indigo-800">
          {t.categoryNames[form.category]}
        </p>
        <p className="break-words text-lg font-semibold">{form.title === "" ? "…" : form.title}</p>
        <p className="text-sm text-gray-700">
          {Number.isNaN(Date.parse(starts)) ? "…" : formatDateTime(starts)}
        </p>
        <p className="text-sm text-gray-700">{form.venueName === "" ? t.online : form.venueName}</p>
        {form.description !== "" && <p className="line-clamp-4 text-sm text-gray-800">{form.description}</p>}
      </div>
    </aside>
  );
}
