import type { D1Migration } from '@cloudflare/vitest-pool-workers';
import type { Env } from '../../edge/env.ts';

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    brokerUrl: string;
    brokerLogUrl: string;
    /** Base URL of the fake Stripe API (test/edge/stripe-fake). */
    stripeFakeUrl: string;
    /** Base URLs of the fake Resend, SendGrid and Twilio APIs (test/edge/notify-fakes). */
    resendFakeUrl: string;
    sendgridFakeUrl: string;
    twilioFakeUrl: string;
  }
}

export type { Env };
