/* `roamquic demo`: a server and a client on loopback, a download, two moves on the way. */
#ifndef RQ_APPS_DEMO_H
#define RQ_APPS_DEMO_H

int app_demo_main(int argc, char **argv);

#endif
