import type { MailMessage } from "@turnout/contracts";
import { useQuery } from "@tanstack/react-query";
import { getRouteApi, Link } from "@tanstack/react-router";
import { type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../../api/client.ts";
import { isApiError } from "../../api/errors.ts";
import { usePagedList } from "../../api/paged-list.ts";
import { keys } from "../../api/queries.ts";
import { useSession } from "../../api/use-session.ts";
import { LoadMore } from "../../components/load-more.tsx";
import { SignedInOnly } from "../../components/signed-in-only.tsx";
import { Empty, ErrorState, Forbidden, Loading, Notice } from "../../components/states.tsx";
import { useI18n } from "../../i18n/i18n.tsx";
import { readMailFile, withoutRefusedParts } from "../../lib/mail-file.ts";

const route = getRouteApi("/admin/mail");

/**
 * /admin/mail: every mail Turnout wrote (GET /api/admin/mail), and one of them opened (`?open=<id>`) from its
 * stored .eml. The mail's HTML is never put into this page: it is shown in a sandboxed frame without scripts.
 */
export function AdminMailPage() {
  return (
    <SignedInOnly next="/admin/mail">
      <AdminOnly>
        <MailOutbox />
      </AdminOnly>
    </SignedInOnly>
  );
}

function AdminOnly({ children }: { children: ReactNode }) {
  const session = useSession();
  return session.user?.role === "admin" ? <>{children}</> : <Forbidden />;
}

function MailOutbox() {
  const { t } = useI18n();
  const { open } = route.useSearch();
  const mails = usePagedList(keys.adminMails, (cursor) => api.admin.mails(cursor));
  // The role may have been taken away since the token was issued: the API's 403 says so, also to a refresh
  // or a next page, and then the mails loaded before are no longer this person's to see either.
  const refusal = mails.error ?? mails.loadMoreError ?? mails.refreshError;
  if (isApiError(refusal, "auth.forbidden")) return <Forbidden />;
  const items = mails.items;

  return (
    <section aria-labelledby="mail-title" className="flex flex-col gap-6">
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div>
          <h1 id="mail-title" className="text-3xl font-bold tracking-tight">
            {t.adminMailTitle}
          </h1>
          <p className="mt-2 text-gray-700">{t.adminMailLead}</p>
        </div>
        <button
          type="button"
          className="btn-secondary"
          disabled={mails.isFetching}
          onClick={() => void mails.refresh()}
        >
          {t.refresh}
        </button>
      </div>
      {open !== undefined && <MailView key={open} id={open} />}
      {mails.isPending ? (
        <Loading />
      ) : mails.error !== null ? (
        <ErrorState error={mails.error} onRetry={() => void mails.refresh()} />
      ) : items.length === 0 ? (
        <>
          <Empty>{t.noMails}</Empty>
          <LoadMore list={mails} />
        </>
      ) : (
        <>
          <MailTable items={items} openId={open} />
          <LoadMore list={mails} />
        </>
      )}
    </section>
  );
}

function MailTable({ items, openId }: { items: MailMessage[]; openId: string | undefined }) {
  const { t, formatDateTime } = useI18n();
  const head = "px-3 py-2 text-left text-sm font-semibold text-gray-800";
  const cell = "px-3 py-2 align-top text-sm";
  return (
    <div className="card overflow-x-auto p-0">
      <table className="w-full min-w-[40rem] border-collapse">
        <caption className="sr-only">{t.adminMailTitle}</caption>
        <thead className="border-b border-gray-200 bg-gray-50">
          <tr>
            <th scope="col" className={head}>
              {t.mailTo}
            </th>
            <th scope="col" className={head}>
              {t.mailSubject}
            </th>
            <th scope="col" className={head}>
              {t.mailKind}
            </th>
            <th scope="col" className={head}>
              {t.mailStatus}
            </th>
            <th scope="col" className={head}>
              {t.mailTime}
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-gray-200">
          {items.map((mail) => {
            const subject = mail.subject ?? t.noSubject;
            const time = mail.sentAt ?? mail.createdAt;
            return (
              <tr key={mail.id} className={mail.id === openId ? "bg-indigo-50" : undefined}>
                <td className={`${cell} break-all`}>{mail.to ?? "—"}</td>
                <td className={cell}>
                  {mail.emlUrl === null ? (
                    <span title={t.mailNotStored}>{subject}</span>
                  ) : (
                    <Link
                      id={`mail-${mail.id}`}
                      to="/admin/mail"
                      search={{ open: mail.id }}
                      aria-current={mail.id === openId ? "true" : undefined}
                      className="font-medium text-indigo-800 underline"
                    >
                      {subject}
                    </Link>
                  )}
                </td>
                <td className={cell}>{t.mailKinds[mail.kind]}</td>
                <td className={cell}>{t.mailStatuses[mail.status]}</td>
                <td className={`${cell} whitespace-nowrap`}>
                  <time dateTime={time}>{formatDateTime(time)}</time>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** One stored mail: who, what, and its body as plain text or as HTML in a sandboxed frame. */
function MailView({ id }: { id: string }) {
  const { t, formatDateTime } = useI18n();
  const navigate = route.useNavigate();
  const file = useQuery({
    queryKey: keys.adminMailFile(id),
    queryFn: () => api.admin.mailFile(id),
    staleTime: Infinity,
  });
  const raw = file.data;
  const mail = useMemo(() => (raw === undefined ? null : readMailFile(raw)), [raw]);
  const [view, setView] = useState<"text" | "html">("text");
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // Opened from the list: move there, so keyboard and screen reader users land on what they opened.
    heading.current?.focus();
  }, [mail]);

  const close = () => {
    void navigate({ search: {} }).then(() => document.getElementById(`mail-${id}`)?.focus());
  };
  const download = () => {
    if (raw === undefined) return;
    const url = URL.createObjectURL(new Blob([raw], { type: "message/rfc822" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${id}.eml`;
    link.click();
    setTimeout(() => {
      URL.revokeObjectURL(url);
    }, 0);
  };

  if (file.isPending) return <Loading />;
  if (file.isError)
    return isApiError(file.error, "mail.not_found") || isApiError(file.error, "validation.failed") ? (
      <Notice tone="bad">{t.mailGone}</Notice>
    ) : (
      <ErrorState error={file.error} onRetry={() => void file.refetch()} />
    );
  if (mail === null) return null;
  const date = mail.headers.get("date");
  const body = view === "text" ? mail.text : mail.html;

  return (
    <section aria-labelledby="open-mail-title" className="card flex flex-col gap-4" data-testid="open-mail">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <h2
          id="open-mail-title"
          ref={heading}
          tabIndex={-1}
          className="break-words text-xl font-semibold focus:outline-none"
        >
          {mail.headers.get("subject") ?? t.noSubject}
        </h2>
        <div className="flex gap-2">
          <button type="button" className="btn-secondary text-sm" onClick={download}>
            {t.downloadEml}
          </button>
          <button type="button" className="btn-secondary text-sm" onClick={close}>
            {t.closeMail}
          </button>
        </div>
      </div>
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
        <dt className="font-semibold text-gray-700">{t.mailFrom}</dt>
        <dd className="break-all">{mail.headers.get("from") ?? "—"}</dd>
        <dt className="font-semibold text-gray-700">{t.mailTo}</dt>
        <dd className="break-all">{mail.headers.get("to") ?? "—"}</dd>
        <dt className="font-semibold text-gray-700">{t.mailTime}</dt>
        <dd>{date === undefined || Number.isNaN(Date.parse(date)) ? (date ?? "—") : formatDateTime(date)}</dd>
      </dl>
      <div role="group" aria-label={t.mailShowAs} className="flex gap-2">
        {(["text", "html"] as const).map((kind) => (
          <button
            key={kind}
            type="button"
            aria-pressed={view === kind}
            className={view === kind ? "btn-primary text-sm" : "btn-secondary text-sm"}
            onClick={() => {
              setView(kind);
            }}
          >
            {kind === "text" ? t.mailPlainText : t.mailHtml}
          </button>
        ))}
      </div>
      {body === null ? (
        <p className="text-gray-700">{t.mailNoBody}</p>
      ) : view === "text" ? (
        <pre className="whitespace-pre-wrap break-words rounded-lg bg-gray-50 p-4 font-mono text-sm text-gray-900">
          {body}
        </pre>
      ) : (
        // sandbox="" gives the frame an origin of its own and no scripts, forms, pop-ups or navigation of
        // this page; the app's Content-Security-Policy applies inside it as well.
        <iframe
          sandbox=""
          srcDoc={withoutRefusedParts(body)}
          title={t.mailHtmlFrame}
          className="h-96 w-full rounded-lg border border-gray-200 bg-white"
        />
      )}
    </section>
  );
}
