# Independent reference for tests/t_stats.c test_newcombe: python3 tests/ref/newcombe.py
# independent check: Wilson bounds found by bisection on the score equation |p-pi| = z sqrt(pi(1-pi)/n)
from math import sqrt
z=1.959963984540054
def wb(k,n):
    p=k/n
    f=lambda pi:(p-pi)**2 - z*z*pi*(1-pi)/n
    def bis(lo,hi):
        for _ in range(200):
            m=(lo+hi)/2
            if (f(lo)>0)==(f(m)>0): lo=m
            else: hi=m
        return (lo+hi)/2
    L = 0.0 if k==0 else bis(0.0,p)
    U = 1.0 if k==n else bis(p,1.0)
    return L,U
def newc(a,b,c,d):
    n=a+b+c+d; p1=(a+b)/n; p2=(a+c)/n
    l1,u1=wb(a+b,n); l2,u2=wb(a+c,n)
    A=(a+b)*(c+d)*(a+c)*(b+d); B=a*d-b*c
    C= B-n/2 if B>n/2 else (B if B<0 else 0)
    phi = C/sqrt(A) if A>0 else 0
    lo=p1-p2-sqrt((p1-l1)**2-2*phi*(p1-l1)*(u2-p2)+(u2-p2)**2)
    hi=p1-p2+sqrt((u1-p1)**2-2*phi*(u1-p1)*(p2-l2)+(p2-l2)**2)
    return lo,hi
for t in [(14,5,0,22),(5,0,0,20),(0,0,0,25),(0,0,1,0),(1,0,0,0),(30,2,9,16),(10,15,5,20),(1,1,7,12)]:
    print(t, "%.12f %.12f"%newc(*t))
