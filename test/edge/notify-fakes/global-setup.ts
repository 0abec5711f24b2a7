// Global setup of the edge tests: starts fake Resend, SendGrid and Twilio APIs (server.ts) on
// loopback ports and hands their URLs to the Worker tests (`inject('resendFakeUrl')`, …).
import type { TestProject } from 'vitest/node';
import { startFakeProvider } from './server.ts';

export default async function setup(project: TestProject) {
  const [resend, sendgrid, twilio] = await Promise.all([startFakeProvider('resend'), startFakeProvider('sendgrid'), startFakeProvider('twilio')]);
  project.provide('resendFakeUrl', resend.url);
  project.provide('sendgridFakeUrl', sendgrid.url);
  project.provide('twilioFakeUrl', twilio.url);
  return async () => {
    await Promise.all([resend.close(), sendgrid.close(), twilio.close()]);
  };
}
